//! The host's firewall for the users' private bridges (interfaces `ds01-<uid>`), installed by
//! ds01d at every start, for IPv4 and IPv6:
//!
//! * `INPUT -i ds01-+ -j DS01-INPUT`: a container may not open connections to the host
//!   itself (ds01d's listeners, any service on any of the host's addresses) except on the
//!   ports the admin lists as `[network] host_ports`. Replies to the host's own connections
//!   pass.
//! * `OUTPUT -o ds01-+ -j DS01-OUTPUT`: no local process but root's may open connections to
//!   a container on a user bridge. ds01d's JupyterLab forward runs as root and passes; a
//!   local user connecting straight to another user's container address does not.
//!
//! The engine's own rules keep bridges apart (`DOCKER-ISOLATION-*`), so containers of
//! different users cannot reach each other; traffic out to the world is left as the engine
//! sets it. Every rule matches only interfaces named `ds01-*`, so other bridges and the
//! host's own traffic are untouched. The two chains are replaced in one transaction
//! (`iptables-restore --noflush`), so a restart never leaves them open half-way, and the
//! jumps are added only where missing: running this again changes nothing but the ports.
//! The rules stay when ds01d stops, as the containers do.

use tokio::process::Command;

use ds01_engine::UserNetwork;

/// The chain of what containers on user bridges may open on the host.
pub const INPUT_CHAIN: &str = "DS01-INPUT";
/// The chain of what local processes may open to containers on user bridges.
pub const OUTPUT_CHAIN: &str = "DS01-OUTPUT";

/// The `iptables-restore` input that (re)fills both chains.
pub fn chains(host_ports: &[u16]) -> String {
    let mut text = format!("*filter\n:{INPUT_CHAIN} - [0:0]\n:{OUTPUT_CHAIN} - [0:0]\n");
    let input = |rule: &str| format!("-A {INPUT_CHAIN} {rule}\n");
    text.push_str(&input(
        "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    ));
    for port in host_ports {
        for proto in ["tcp", "udp"] {
            text.push_str(&input(&format!("-p {proto} --dport {port} -j ACCEPT")));
        }
    }
    text.push_str(&input("-j REJECT"));
    let output = |rule: &str| format!("-A {OUTPUT_CHAIN} {rule}\n");
    text.push_str(&output("-m owner --uid-owner 0 -j RETURN"));
    text.push_str(&output(
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
    ));
    text.push_str(&output("-j REJECT"));
    text.push_str("COMMIT\n");
    text
}

/// The jumps from the built-in chains: `(chain, rule)`.
pub fn jumps() -> [(&'static str, Vec<String>); 2] {
    let bridges = format!("{}+", UserNetwork::BRIDGE_PREFIX);
    [
        (
            "INPUT",
            vec![
                "-i".into(),
                bridges.clone(),
                "-j".into(),
                INPUT_CHAIN.into(),
            ],
        ),
        (
            "OUTPUT",
            vec!["-o".into(), bridges, "-j".into(), OUTPUT_CHAIN.into()],
        ),
    ]
}

/// Installs the chains and jumps for IPv4 (required: without it ds01d does not start) and
/// IPv6 (where the host has it).
pub async fn install(host_ports: &[u16]) -> Result<(), String> {
    install_family("iptables", host_ports).await?;
    if let Err(e) = install_family("ip6tables", host_ports).await {
        tracing::warn!("no IPv6 rules for the user networks: {e}");
    }
    tracing::info!(
        "firewall for user networks ({}+): host ports open to containers: {host_ports:?}",
        UserNetwork::BRIDGE_PREFIX
    );
    Ok(())
}

async fn install_family(tool: &str, host_ports: &[u16]) -> Result<(), String> {
    let restore = format!("{tool}-restore");
    run_with_input(&restore, &["-w", "--noflush"], &chains(host_ports)).await?;
    for (chain, rule) in jumps() {
        let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
        let check = [&["-w", "-C", chain][..], &rule].concat();
        if run(tool, &check).await.is_ok() {
            continue;
        }
        // First, so that an ACCEPT earlier in the chain cannot let the traffic by.
        let insert = [&["-w", "-I", chain, "1"][..], &rule].concat();
        run(tool, &insert).await?;
    }
    Ok(())
}

async fn run(tool: &str, args: &[&str]) -> Result<(), String> {
    run_with_input(tool, args, "").await
}

async fn run_with_input(tool: &str, args: &[&str], input: &str) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(|e| format!("writing to {tool}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("running {tool}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{tool} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_user_bridges_reach_no_host_port() {
        let text = chains(&[]);
        assert!(!text.contains("--dport"));
        let input: Vec<&str> = text.lines().filter(|l| l.contains(INPUT_CHAIN)).collect();
        assert_eq!(input.last(), Some(&"-A DS01-INPUT -j REJECT"));
        // Only root's connections to the containers pass.
        assert!(text.contains("-A DS01-OUTPUT -m owner --uid-owner 0 -j RETURN\n"));
        assert!(text.ends_with("-A DS01-OUTPUT -j REJECT\nCOMMIT\n"));
    }

    #[test]
    fn listed_ports_are_accepted_before_the_reject() {
        let text = chains(&[53]);
        let accept = text.find("-p udp --dport 53 -j ACCEPT").unwrap();
        assert!(text.find("-p tcp --dport 53 -j ACCEPT").unwrap() < accept);
        assert!(accept < text.find("-A DS01-INPUT -j REJECT").unwrap());
    }

    #[test]
    fn the_jumps_match_only_ds01_bridges() {
        let [(input, i), (output, o)] = jumps();
        assert_eq!(
            (input, i.join(" ")),
            ("INPUT", "-i ds01-+ -j DS01-INPUT".into())
        );
        assert_eq!(
            (output, o.join(" ")),
            ("OUTPUT", "-o ds01-+ -j DS01-OUTPUT".into())
        );
    }
}
