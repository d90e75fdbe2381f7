//! Help to get working, tried as users would: JupyterLab in a container, reached through
//! ds01d's loopback forward with its token; shell completion that knows the user's own
//! container names (and nobody else's); the pick-list for a missing NAME on a terminal.
//! Unprivileged throwaway accounts (one with an LDAP login and a 10-digit UID) run `ds01`
//! against a ds01d on a temporary socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

/// Asserts a refusal (exit status 1) whose message contains every needle.
fn refused(out: Output, what: &str, needles: &[&str]) {
    ds01_tests::check::refused_saying(&out, Some(1), what, needles)
}

/// The daemon configuration: the test label, and builds that trust the host's CA
/// certificates (this machine's egress re-signs TLS, so pip needs them).
fn config(sweeper: &Sweeper) -> String {
    let host_cas = "/etc/ssl/certs/ca-certificates.crt";
    assert!(
        std::path::Path::new(host_cas).exists(),
        "{host_cas} is needed for pip"
    );
    config_with_labels(
        &sweeper.label().1,
        &format!("build_ca_certificates = \"{host_cas}\"\n"),
    )
}

/// `GET path` at `127.0.0.1:port` with `Connection: close`: the status code.
fn http_status(port: u16, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let status = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

#[test]
fn jupyter_answers_with_its_token_in_the_owners_container_only() {
    let sweeper = Sweeper::new("everyday-help-jupyter");
    let alice = TestUser::ldap("jup");
    let bob = TestUser::plain("jup");
    let daemon = TestDaemon::start(&config(&sweeper));

    // An image with JupyterLab from pip, on a base without Python.
    daemon.ok(
        daemon.ds01(
            &alice,
            &[
                "image",
                "create",
                "nb",
                "--base",
                DEBIAN12,
                "--pip",
                "jupyterlab",
                "--apt",
                "openssh-server",
            ],
        ),
        "image create nb --pip jupyterlab --apt openssh-server",
    );
    daemon.ok(
        daemon.ds01(&alice, &["container", "create", "nb"]),
        "container create nb",
    );

    // The container is stopped: jupyter starts it, then JupyterLab.
    let out = daemon.ok(
        daemon.ds01(&alice, &["container", "jupyter", "nb", "--json"]),
        "container jupyter nb",
    );
    let server: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let port = server["port"].as_u64().unwrap() as u16;
    let token = server["token"].as_str().unwrap().to_owned();
    let url = server["url"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 48, "{server}");
    assert_eq!(url, format!("http://127.0.0.1:{port}/lab?token={token}"));
    assert!(
        server["ssh"].as_str().unwrap().starts_with(&format!(
            "ssh -L {port}:127.0.0.1:{port} {}@",
            alice.login()
        )),
        "{server}"
    );
    assert_eq!(server["reused"], false);

    // The URL answers 200 with its token; without it, the notebook API refuses.
    let path = url.trim_start_matches(&format!("http://127.0.0.1:{port}"));
    assert_eq!(http_status(port, path).unwrap(), 200, "GET {url}");
    assert_eq!(
        http_status(port, &format!("/api/contents?token={token}")).unwrap(),
        200
    );
    assert_eq!(http_status(port, "/api/contents").unwrap(), 403);

    // JupyterLab runs as alice, with its log where the docs say.
    let ps = daemon.ok(
        daemon.ds01(
            &alice,
            &[
                "container",
                "exec",
                "nb",
                "--",
                "sh",
                "-c",
                "id -u; test -s ~/.ds01/jupyter.log && echo log",
            ],
        ),
        "exec id",
    );
    assert_eq!(ps, format!("{}\nlog\n", alice.uid()));

    // Asked again: the same server, the same URL.
    let again = daemon.ok(
        daemon.ds01(&alice, &["container", "jupyter", "nb", "--json"]),
        "container jupyter nb again",
    );
    let again: serde_json::Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(again["url"], server["url"]);
    assert_eq!(again["reused"], true);

    // Text output: the URL on stdout, the tunnel line on stderr.
    let out = daemon.ds01(&alice, &["container", "jupyter", "nb"]);
    assert_eq!(
        daemon.ok(out.clone(), "container jupyter nb (text)"),
        format!("{url}\n")
    );
    assert!(text(&out.stderr).contains(&format!("ssh -L {port}:127.0.0.1:{port}")));

    vs_code_path(&alice, &daemon);

    // Bob can neither start JupyterLab in alice's container nor name it.
    refused(
        daemon.ds01(&bob, &["container", "jupyter", "nb"]),
        "bob's jupyter in alice's nb",
        &["no container"],
    );

    // An image without JupyterLab: a clear refusal naming the fix.
    daemon.ok(
        daemon.ds01(
            &alice,
            &["container", "create", "bare", "--image", DEBIAN12],
        ),
        "container create bare",
    );
    refused(
        daemon.ds01(&alice, &["container", "jupyter", "bare"]),
        "jupyter without JupyterLab",
        &["JupyterLab is not installed", "--add jupyterlab"],
    );

    // Stopping the container ends the forward: the port is closed again.
    daemon.ok(
        daemon.ds01(&alice, &["container", "stop", "nb", "-t", "1"]),
        "container stop nb",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "127.0.0.1:{port} still accepts after the container stopped"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for name in ["nb", "bare"] {
        daemon.ok(
            daemon.ds01(&alice, &["container", "remove", name, "--force"]),
            "container remove",
        );
    }
}

/// `container code`'s lines, followed as printed: the setup in the container, the key, and
/// an ssh whose ProxyCommand is the printed one minus its hop to this server (the test
/// runs on the server already), reaching an sshd of alice's inside `nb`. VS Code itself is
/// not run.
fn vs_code_path(alice: &TestUser, daemon: &TestDaemon) {
    let out = daemon.ok(
        daemon.ds01(alice, &["container", "code", "nb", "--json"]),
        "container code nb",
    );
    let code: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let config = code["ssh_config"].as_str().unwrap();
    assert!(config.starts_with("Host ds01-nb\n"), "{config}");
    let proxy = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("ProxyCommand "))
        .unwrap();
    let hop = format!("ssh -T {}@", alice.login());
    assert!(proxy.starts_with(&hop), "{proxy}");
    // The laptop's ssh would run `ssh -T LOGIN@SERVER "COMMAND"`, whose COMMAND the
    // server's shell runs: here, a shell runs it directly.
    let local = config.replace(&proxy[..proxy.find(" \"").unwrap()], "sh -c");
    let ssh_config = alice.home().join("laptop-ssh-config");
    std::fs::write(&ssh_config, &local).unwrap();
    let bin_dir = user_visible_binary("ds01")
        .parent()
        .unwrap()
        .display()
        .to_string();
    let script = format!(
        "set -e\nexport PATH={bin_dir}:$PATH\ncd ~\n{setup}\n\
         ssh-keygen -q -t ed25519 -N '' -f ~/laptop-key\n\
         ds01 container exec -i nb -- sh -c 'cat >> ~/.ds01/ssh/authorized_keys' < ~/laptop-key.pub\n\
         ssh -F {config_path} -i ~/laptop-key -o BatchMode=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ds01-nb 'id -u; test -f /.dockerenv && echo in-container'\n",
        setup = code["setup"].as_str().unwrap(),
        config_path = ssh_config.display(),
    );
    let mut cmd = alice.command("bash");
    cmd.envs(daemon.env_for()).args(["-c", &script]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "the VS Code path failed:\nconfig: {local}\nscript: {script}\nstdout: {}\nstderr: {}\nthe image: {}",
        text(&out.stdout),
        text(&out.stderr),
        text(&daemon.ds01(alice, &["image", "show", "nb"]).stdout),
    );
    assert_eq!(
        text(&out.stdout),
        format!("{}\nin-container\n", alice.uid())
    );
}

/// `ds01 container start` without a NAME: on a terminal, alice's containers to pick from
/// (and not bob's); without one, clap's usage error.
fn pick_list(alice: &TestUser, daemon: &TestDaemon) {
    let out = daemon.ds01(alice, &["container", "start"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("<NAME|--all>"),
        "{}",
        text(&out.stderr)
    );

    let bin = user_visible_binary("ds01");
    let socket = daemon.socket();
    let tmux = alice.tmux_session(&format!(
        "DS01_SOCKET={} {} container start",
        socket.display(),
        bin.display()
    ));
    let screen = tmux.wait_for("Number (Enter cancels):", Duration::from_secs(30));
    assert!(screen.contains("Which container?"), "{screen}");
    assert!(screen.contains("1  thesis"), "{screen}");
    assert!(screen.contains("2  tiny"), "{screen}");
    assert!(!screen.contains("bobsbox"), "{screen}");
    tmux.send_keys(&["2", "Enter"]);
    assert_eq!(
        tmux.wait_exit(Duration::from_secs(60)),
        0,
        "{}",
        tmux.capture_pane()
    );
    let list = daemon.ok(daemon.ds01(alice, &["container", "list", "--json"]), "list");
    let state = |name: &str| {
        list.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|c| c["name"] == name)
            .map(|c| c["state"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(state("tiny"), "running");
    assert_ne!(state("thesis"), "running");
}

/// What bash's TAB after `words` offers, through the script `ds01 completions bash` prints,
/// run by `user` in a real bash (COMP_WORDS and COMP_CWORD set as readline sets them).
fn bash_tab(user: &TestUser, daemon: &TestDaemon, words: &[&str]) -> Vec<String> {
    let bin = user_visible_binary("ds01");
    let dir = bin.parent().unwrap().display().to_string();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "export PATH={dir}:$PATH\n\
         source <(ds01 completions bash)\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_TYPE=9\n\
         _clap_complete_ds01 ds01 '{current}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let mut cmd = user.command("bash");
    cmd.envs(daemon.env_for()).args(["-c", &script]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "bash: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        // On an empty word clap offers the global flags too; only the names matter here.
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .map(str::to_owned)
        .collect()
}

/// What the zsh or fish script would get back: `ds01` called with `COMPLETE=<shell>` and
/// the words the way their registration scripts pass them (neither shell is installed
/// here; the scripts themselves come from clap_complete).
fn raw_tab(user: &TestUser, daemon: &TestDaemon, shell: &str, words: &[&str]) -> Vec<String> {
    let mut cmd = user.command(user_visible_binary("ds01"));
    cmd.envs(daemon.env_for())
        .env("COMPLETE", shell)
        .env("_CLAP_IFS", "\n")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .arg("--")
        .args(words);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        // zsh: `value:description`; fish: `value<TAB>description`. Both get the global
        // flags too on an empty word; only the names matter here.
        .map(|l| l.split([':', '\t']).next().unwrap_or_default().to_owned())
        .filter(|v| !v.starts_with('-'))
        .collect()
}

#[test]
fn completion_offers_the_users_own_container_names() {
    let sweeper = Sweeper::new("everyday-help-complete");
    let alice = TestUser::ldap("cmp");
    let bob = TestUser::plain("cmp");
    let daemon = TestDaemon::start(&config(&sweeper));
    for (user, name) in [(&alice, "thesis"), (&alice, "tiny"), (&bob, "bobsbox")] {
        daemon.ok(
            daemon.ds01(user, &["container", "create", name, "--image", DEBIAN12]),
            "container create",
        );
    }

    let mut offered = bash_tab(&alice, &daemon, &["ds01", "container", "open", ""]);
    offered.sort();
    assert_eq!(offered, ["thesis", "tiny"]);
    assert_eq!(
        bash_tab(&alice, &daemon, &["ds01", "container", "remove", "th"]),
        ["thesis"]
    );
    assert_eq!(
        bash_tab(&bob, &daemon, &["ds01", "container", "open", ""]),
        ["bobsbox"]
    );
    // Verbs still complete as before.
    assert!(bash_tab(&alice, &daemon, &["ds01", "container", "ju"]).contains(&"jupyter".into()));

    for shell in ["zsh", "fish"] {
        let mut offered = raw_tab(&alice, &daemon, shell, &["ds01", "container", "open", ""]);
        offered.sort();
        assert_eq!(offered, ["thesis", "tiny"], "{shell}");
    }
    pick_list(&alice, &daemon);

    for (user, name) in [(&alice, "thesis"), (&alice, "tiny"), (&bob, "bobsbox")] {
        daemon.ok(
            daemon.ds01(user, &["container", "remove", name, "--force"]),
            "container remove",
        );
    }
}
