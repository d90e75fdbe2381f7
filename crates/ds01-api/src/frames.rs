//! The byte stream of an exec session after the HTTP upgrade: both directions carry frames
//! of `[kind: u8][length: u32, big-endian][payload]`, so one connection multiplexes stdin,
//! stdout, stderr, terminal resizes and the command's exit status.
//!
//! ```
//! use ds01_api::frames::{encode, Decoder, Frame};
//! let mut decoder = Decoder::default();
//! decoder.push(&encode(&Frame::Stdout(b"hi\n".to_vec())));
//! decoder.push(&encode(&Frame::Exit(7)));
//! assert_eq!(decoder.next_frame().unwrap(), Some(Frame::Stdout(b"hi\n".to_vec())));
//! assert_eq!(decoder.next_frame().unwrap(), Some(Frame::Exit(7)));
//! assert_eq!(decoder.next_frame().unwrap(), None);
//! ```

use crate::ApiError;

/// Frames longer than this are refused: a peer cannot make the other side allocate at will.
pub const MAX_FRAME: usize = 1 << 20;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client → service: bytes for the command's stdin.
    Stdin(Vec<u8>),
    /// Client → service: stdin has ended.
    StdinEof,
    /// Client → service: the terminal is now `width` × `height`.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Service → client: output (all output, with a terminal).
    Stdout(Vec<u8>),
    /// Service → client: error output.
    Stderr(Vec<u8>),
    /// Service → client: the command ended with this status; the last frame.
    Exit(i32),
    /// Service → client: the session failed; the last frame.
    Error(ApiError),
    /// Service → client: a notice from the service (e.g. a coming idle stop).
    Notice(String),
}

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const RESIZE: u8 = 3;
const STDIN_EOF: u8 = 4;
const EXIT: u8 = 5;
const ERROR: u8 = 6;
const NOTICE: u8 = 7;

/// The bytes of one frame.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let (kind, payload): (u8, Vec<u8>) = match frame {
        Frame::Stdin(b) => (STDIN, b.clone()),
        Frame::StdinEof => (STDIN_EOF, Vec::new()),
        Frame::Resize { width, height } => {
            let mut p = width.to_be_bytes().to_vec();
            p.extend(height.to_be_bytes());
            (RESIZE, p)
        }
        Frame::Stdout(b) => (STDOUT, b.clone()),
        Frame::Stderr(b) => (STDERR, b.clone()),
        Frame::Exit(status) => (EXIT, status.to_be_bytes().to_vec()),
        Frame::Error(e) => (ERROR, serde_json::to_vec(e).unwrap_or_default()),
        Frame::Notice(text) => (NOTICE, text.as_bytes().to_vec()),
    };
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend((payload.len() as u32).to_be_bytes());
    out.extend(payload);
    out
}

/// A frame that breaks the format: the connection cannot be trusted after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed exec frame: {0}")]
pub struct FrameError(&'static str);

/// Reassembles frames from bytes as they arrive.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError("longer than 1 MiB"));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload: Vec<u8> = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        let frame = match kind {
            STDIN => Frame::Stdin(payload),
            STDIN_EOF => Frame::StdinEof,
            RESIZE if payload.len() == 4 => Frame::Resize {
                width: u16::from_be_bytes([payload[0], payload[1]]),
                height: u16::from_be_bytes([payload[2], payload[3]]),
            },
            STDOUT => Frame::Stdout(payload),
            STDERR => Frame::Stderr(payload),
            EXIT if payload.len() == 4 => Frame::Exit(i32::from_be_bytes([
                payload[0], payload[1], payload[2], payload[3],
            ])),
            ERROR => Frame::Error(
                serde_json::from_slice(&payload).map_err(|_| FrameError("error is not JSON"))?,
            ),
            NOTICE => Frame::Notice(String::from_utf8_lossy(&payload).into_owned()),
            _ => return Err(FrameError("unknown kind or wrong length")),
        };
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_reassemble() {
        let frames = vec![
            Frame::Stdin(b"abc".to_vec()),
            Frame::Resize {
                width: 120,
                height: 40,
            },
            Frame::StdinEof,
            Frame::Stderr(vec![0, 255, 10]),
            Frame::Notice("stops at 03:12 (idle)".into()),
            Frame::Error(ApiError::invalid("x")),
            Frame::Exit(-1),
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
        for split in 0..bytes.len() {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for part in [&bytes[..split], &bytes[split..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "split at {split}");
        }
    }

    #[test]
    fn oversized_and_unknown_frames_are_refused() {
        let mut d = Decoder::default();
        d.push(&[STDOUT, 0xff, 0xff, 0xff, 0xff]);
        assert!(d.next_frame().is_err());
        let mut d = Decoder::default();
        d.push(&[42, 0, 0, 0, 0]);
        assert!(d.next_frame().is_err());
    }
}
