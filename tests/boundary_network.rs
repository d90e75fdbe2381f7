//! The network boundary, tried as the users would: every account gets a bridge network of its
//! own (`ds01-net-<uid>`, interface `ds01-<uid>`), which all its containers join and no other
//! account's ever does. Two throwaway unprivileged accounts (alice with an LDAP login and a
//! 10-digit UID, whose bridge name is the 15-character maximum) run `ds01` against a ds01d on
//! a temporary socket; a perl one-liner in alice's container stands in for any service of hers
//! (JupyterLab included: ds01d's forward reaches it as root, like the root connection here).
//!
//! One test, because the firewall rules ds01d installs at start are the host's: a second
//! daemon of this suite starting meanwhile with other `host_ports` would change them.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::time::Duration;

use ds01_tests::check::{docker, inspect, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

/// The port alice's service listens on inside her container.
const PORT: u16 = 8000;

/// A TCP server that greets every connection with `hello from <name>`: what the fixture has
/// (perl-base's IO::Socket) serving on all of the container's addresses.
const SERVER: &str = r#"use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $c = $s->accept) { print $c "hello from $ARGV[1]\n"; close $c; }"#;

/// Connects to `$1:$2` with bash's `/dev/tcp` and prints the first line answered; the
/// `timeout` only bounds a connection the engine's isolation drops without an answer.
const CONNECT: &str = r#"exec timeout 5 bash -c 'exec 3<>/dev/tcp/$0/$1 && head -1 <&3' "$1" "$2""#;

fn exec(daemon: &TestDaemon, user: &TestUser, name: &str, args: &[&str]) -> Output {
    let mut all = vec!["container", "exec", name, "--"];
    all.extend_from_slice(args);
    daemon.ds01(user, &all)
}

/// From `user`'s container `name`: what `host:port` answers, or `Err` with what happened.
fn reach(
    daemon: &TestDaemon,
    user: &TestUser,
    name: &str,
    host: &str,
    port: u16,
) -> Result<String, String> {
    let port = port.to_string();
    let out = exec(
        daemon,
        user,
        name,
        &["bash", "-c", CONNECT, "connect", host, &port],
    );
    let stdout = text(&out.stdout).trim().to_owned();
    if out.status.success() && !stdout.is_empty() {
        Ok(stdout)
    } else {
        Err(format!(
            "status {:?}, stdout `{stdout}`, stderr `{}`",
            out.status.code(),
            text(&out.stderr).trim()
        ))
    }
}

/// As the host user `user` (not in a container): what `ip:port` answers.
fn reach_from_host(user: &TestUser, ip: &str, port: u16) -> Result<String, String> {
    let port = port.to_string();
    let out = user.run_as("bash", ["-c", CONNECT, "connect", ip, &port]);
    let stdout = text(&out.stdout).trim().to_owned();
    if out.status.success() && !stdout.is_empty() {
        Ok(stdout)
    } else {
        Err(format!(
            "status {:?}, stderr `{}`",
            out.status.code(),
            text(&out.stderr).trim()
        ))
    }
}

fn create(daemon: &TestDaemon, user: &TestUser, name: &str) {
    daemon.ok(
        daemon.ds01(
            user,
            &["container", "create", name, "--image", DEBIAN12, "--start"],
        ),
        &format!("{}'s create {name}", user.login()),
    );
}

/// Starts the greeting server in `user`'s container `name`, returning once it answers there.
fn serve(daemon: &TestDaemon, user: &TestUser, name: &str) {
    let port = PORT.to_string();
    daemon.ok(
        exec(
            daemon,
            user,
            name,
            &[
                "sh",
                "-c",
                r#"nohup perl -e "$0" "$1" "$2" >/dev/null 2>&1 &"#,
                SERVER,
                &port,
                name,
            ],
        ),
        "starting the server",
    );
    for _ in 0..100 {
        if reach(daemon, user, name, "127.0.0.1", PORT).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server in {name} never answered");
}

/// The networks `docker_name` is attached to, with its address on each.
fn networks(docker_name: &str) -> Vec<(String, String)> {
    inspect(
        docker_name,
        "{{range $n, $e := .NetworkSettings.Networks}}{{$n}} {{$e.IPAddress}}\n{{end}}",
    )
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(n, ip)| (n.to_owned(), ip.to_owned()))
    .collect()
}

/// A TCP service of the host's own, on every address: greets with `hello from the host`.
fn host_service() -> u16 {
    let listener = TcpListener::bind(("0.0.0.0", 0)).expect("bind a host port");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"hello from the host\n");
        }
    });
    port
}

/// The rules of ds01d's input chain for user bridges.
fn input_rules() -> String {
    let out = std::process::Command::new("iptables")
        .args(["-w", "-S", "DS01-INPUT"])
        .output()
        .expect("iptables runs");
    text(&out.stdout)
}

#[test]
fn each_user_has_a_network_of_their_own_closed_to_others_and_to_the_host() {
    let sweeper = Sweeper::new("boundary-network");
    let config = config_with_labels(&sweeper.label().1, "");
    let mut daemon = TestDaemon::start(&config);
    let alice = TestUser::ldap("net");
    let bob = TestUser::plain("net");
    let alice_net = format!("ds01-net-{}", alice.uid());
    let bob_net = format!("ds01-net-{}", bob.uid());

    // A dry run names the network without making it.
    let plan = daemon.ok(
        daemon.ds01(
            &bob,
            &[
                "container",
                "create",
                "box",
                "--image",
                DEBIAN12,
                "--dry-run",
            ],
        ),
        "dry run",
    );
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        plan["create"]["HostConfig"]["NetworkMode"],
        bob_net.as_str()
    );
    assert_eq!(
        inspect(&bob_net, "{{.Id}}"),
        "",
        "the dry run made the network"
    );

    // A network under bob's network's name that ds01 did not make for him (an admin's,
    // say) is never joined: his create is refused until it is gone.
    docker(&[
        "network",
        "create",
        "--label",
        &format!("ds01.test={}", sweeper.label().1),
        &bob_net,
    ]);
    let out = daemon.ds01(&bob, &["container", "create", "box", "--image", DEBIAN12]);
    ds01_tests::check::refused(
        out,
        1,
        "a create onto a network ds01 did not make",
        "not ds01's private network",
    );
    let bobs = format!("box._.{}", bob.uid());
    assert_eq!(
        inspect(&bobs, "{{.Id}}"),
        "",
        "the refused create left a container"
    );
    docker(&["network", "rm", &bob_net]);

    create(&daemon, &alice, "web");
    create(&daemon, &alice, "client");
    create(&daemon, &bob, "box");
    let web = format!("web._.{}", alice.uid());
    let client = format!("client._.{}", alice.uid());

    // Each container is on its owner's network and on no other.
    let web_nets = networks(&web);
    assert_eq!(web_nets.len(), 1, "{web_nets:?}");
    assert_eq!(web_nets[0].0, alice_net);
    assert_eq!(networks(&client)[0].0, alice_net);
    assert_eq!(networks(&client).len(), 1);
    assert_eq!(networks(&bobs).len(), 1);
    assert_eq!(networks(&bobs)[0].0, bob_net);
    let web_ip = web_nets[0].1.clone();
    assert!(!web_ip.is_empty());
    // The networks: ds01's, labelled with their owner, on bridges ds01's rules match.
    assert_eq!(
        inspect(
            &alice_net,
            "{{index .Labels \"ds01.uid\"}} {{index .Options \"com.docker.network.bridge.name\"}}"
        ),
        format!("{} ds01-{}", alice.uid(), alice.uid())
    );
    assert_eq!(
        inspect(&bob_net, "{{index .Labels \"ds01.uid\"}}"),
        bob.uid().to_string()
    );

    // Alice's containers reach each other: by the name she gave, by address.
    serve(&daemon, &alice, "web");
    let hello = Ok("hello from web".to_owned());
    assert_eq!(reach(&daemon, &alice, "client", "web", PORT), hello);
    assert_eq!(reach(&daemon, &alice, "client", &web_ip, PORT), hello);

    // Bob's container does not: not by address, and her names mean nothing on his network.
    let from_bob = reach(&daemon, &bob, "box", &web_ip, PORT);
    assert!(
        from_bob.is_err(),
        "bob's container reached alice's: {from_bob:?}"
    );
    eprintln!("bob's container to alice's {web_ip}:{PORT}: {from_bob:?}");
    let by_name = reach(&daemon, &bob, "box", "web", PORT);
    assert!(
        by_name.is_err(),
        "bob's container reached `web`: {by_name:?}"
    );

    // Nor does a container on the engine's default bridge (where DS01's own scripts put
    // theirs): the engine keeps bridges apart.
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--label"])
        .arg(format!("ds01.test={}", sweeper.label().1))
        .args([DEBIAN12, "bash", "-c", CONNECT, "connect", &web_ip])
        .arg(PORT.to_string())
        .output()
        .expect("docker runs");
    assert!(
        !out.status.success(),
        "a container on the default bridge reached alice's: {}",
        text(&out.stdout)
    );

    // Local users on the host cannot connect to the container's address either (not bob,
    // not alice herself: her way in is ds01d's forward); root, as ds01d's forward is, can.
    for user in [&bob, &alice] {
        let direct = reach_from_host(user, &web_ip, PORT);
        assert!(
            direct.is_err(),
            "{} reached {web_ip}:{PORT} from the host: {direct:?}",
            user.login()
        );
        eprintln!(
            "{} on the host to {web_ip}:{PORT}: {direct:?}",
            user.login()
        );
    }
    let mut line = String::new();
    let stream = TcpStream::connect((web_ip.as_str(), PORT)).expect("root connects");
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "hello from web");
    // The same users' connections elsewhere work: only the user bridges are closed to them.
    let port = host_service();
    assert_eq!(
        reach_from_host(&bob, "127.0.0.1", port),
        Ok("hello from the host".to_owned())
    );

    // A service on the host, on the bridge's gateway address or any other of the host's
    // addresses, is closed to the containers unless the admin lists its port.
    let gateway = inspect(&alice_net, "{{range .IPAM.Config}}{{.Gateway}}{{end}}");
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname runs");
    let mut addresses: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .filter(|a| !a.contains(':'))
        .map(str::to_owned)
        .collect();
    assert!(!addresses.is_empty(), "the host has IPv4 addresses");
    addresses.push(gateway.clone());
    assert_eq!(
        TcpStream::connect((gateway.as_str(), port))
            .map(|s| {
                let mut l = String::new();
                BufReader::new(s).read_line(&mut l).map(|_| l)
            })
            .unwrap()
            .unwrap()
            .trim(),
        "hello from the host",
        "the host service answers on {gateway}"
    );
    for address in &addresses {
        let got = reach(&daemon, &alice, "web", address, port);
        assert!(
            got.is_err(),
            "a container reached the host's {address}:{port}: {got:?}"
        );
        eprintln!("alice's container to the host's {address}:{port}: {got:?}");
    }
    let allowing = config_with_labels(
        &sweeper.label().1,
        &format!("[network]\nhost_ports = [{port}]\n"),
    );
    daemon.set_config(&allowing);
    daemon.restart();
    assert!(input_rules().contains(&format!("--dport {port} -j ACCEPT")));
    assert_eq!(
        reach(&daemon, &alice, "web", &gateway, port),
        Ok("hello from the host".to_owned())
    );
    // Bob's container, on a bridge of its own, is no closer to alice's for it.
    assert!(reach(&daemon, &bob, "box", &web_ip, PORT).is_err());
    daemon.set_config(&config);
    daemon.restart();
    assert!(!input_rules().contains(&format!("--dport {port}")));
    assert!(reach(&daemon, &alice, "web", &gateway, port).is_err());

    // Recreated, a container is back on its owner's network, under its name.
    daemon.ok(
        daemon.ds01(&alice, &["container", "recreate", "client"]),
        "recreate client",
    );
    assert_eq!(networks(&client).len(), 1);
    assert_eq!(networks(&client)[0].0, alice_net);
    assert_eq!(reach(&daemon, &alice, "client", "web", PORT), hello);
}
