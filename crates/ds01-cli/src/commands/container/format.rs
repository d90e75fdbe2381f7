//! `container list --format`: `table` (the default), `json`, or a template such as
//! `'{{.Name}} {{.State}}'` over the fields of a listed container.

use std::str::FromStr;

use ds01_api::ContainerInfo;

/// The template fields, as Docker users spell them.
pub const FIELDS: [&str; 12] = [
    "Name",
    "DockerName",
    "ID",
    "Image",
    "State",
    "Status",
    "User",
    "UID",
    "Framework",
    "GPUs",
    "Workspace",
    "StopsAt",
];

/// How `list` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per line.
    Json,
    /// One line per container from the template.
    Template(Vec<Piece>),
}

/// Literal text or a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Printed as is.
    Text(String),
    /// Replaced by the field's value.
    Field(&'static str),
}

impl FromStr for ListFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "table" => return Ok(ListFormat::Table),
            "json" => return Ok(ListFormat::Json),
            _ => {}
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find("}}")
                .ok_or_else(|| format!("`{{{{` without `}}}}` in the format `{text}`"))?;
            let inner = rest[open + 2..open + close].trim();
            let name = inner.strip_prefix('.').unwrap_or(inner);
            let field = FIELDS.iter().find(|f| **f == name).ok_or_else(|| {
                format!(
                    "unknown field `{inner}` in the format; the fields are {}",
                    FIELDS.map(|f| format!(".{f}")).join(", ")
                )
            })?;
            pieces.push(Piece::Field(field));
            rest = &rest[open + close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
            return Err(format!(
                "the format `{text}` is neither table, json nor a template with fields such as {{{{.Name}}}}"
            ));
        }
        Ok(ListFormat::Template(pieces))
    }
}

/// One container through the template.
pub fn render(pieces: &[Piece], c: &ContainerInfo) -> String {
    let mut line = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => line.push_str(t),
            Piece::Field(f) => line.push_str(&ds01_api::shown(&field(f, c))),
        }
    }
    line
}

fn field(name: &str, c: &ContainerInfo) -> String {
    match name {
        "Name" => c.name.clone(),
        "DockerName" => c.docker_name.clone(),
        "ID" => c.id.clone(),
        "Image" => c.image.clone(),
        "State" => c.state.clone(),
        "Status" => c.status.clone(),
        "User" => c.user.clone(),
        "UID" => c.uid.to_string(),
        "Framework" => c.framework.clone(),
        "GPUs" => c.gpus.clone(),
        "Workspace" => c.workspace.clone(),
        "StopsAt" => c.stops_at.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_unknown_fields_are_named() {
        let ListFormat::Template(p) = "{{.Name}} {{ .State }}!".parse().unwrap() else {
            panic!("a template")
        };
        assert_eq!(
            p,
            vec![
                Piece::Field("Name"),
                Piece::Text(" ".into()),
                Piece::Field("State"),
                Piece::Text("!".into())
            ]
        );
        let e = "{{.Colour}}".parse::<ListFormat>().unwrap_err();
        assert!(
            e.contains("unknown field `.Colour`") && e.contains(".Name"),
            "{e}"
        );
        assert!("{{.Name".parse::<ListFormat>().is_err());
        assert!("plain".parse::<ListFormat>().is_err());
        assert_eq!("json".parse::<ListFormat>().unwrap(), ListFormat::Json);
    }
}
