//! Confined builds, tried by throwaway unprivileged users through a ds01d on a temporary
//! socket: a build step gets the user's memory, CPUs, shm and pids (a fork bomb in `RUN` is
//! bounded), runs on a build network from which no other container is reachable but apt and
//! pip reach the outside, `max_builds` refuses one build too many, `build_timeout` cancels a
//! build, and no cancelled, failed or timed-out build leaves an image or a step container.
//!
//! Every test Dockerfile labels its images with the test's label right after `FROM`, so each
//! step image a build commits carries it: "nothing left" is "nothing with that label".

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

/// A bound on waiting for the engine to get somewhere (a hang bound, not a speed check).
const PATIENCE: Duration = Duration::from_secs(300);

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    text(&out.stdout).trim().to_owned()
}

/// A ds01d labelling for `sweeper`, with its own build network (removed on drop) and
/// `policy` as its `[policy.default]`.
struct Setup {
    daemon: TestDaemon,
    network: String,
}

impl Setup {
    fn new(sweeper: &Sweeper, policy: &str) -> Setup {
        let network = format!("ds01-test-build-{}", sweeper.label().1);
        let host_cas = "/etc/ssl/certs/ca-certificates.crt";
        let cas = if std::path::Path::new(host_cas).exists() {
            format!("build_ca_certificates = \"{host_cas}\"\n")
        } else {
            String::new()
        };
        let extra = format!("build_network = \"{network}\"\n{cas}[policy.default]\n{policy}\n");
        Setup {
            daemon: TestDaemon::start(&config_with_labels(&sweeper.label().1, &extra)),
            network,
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// Writes a Dockerfile that labels every step image for `sweeper`, then `steps`.
fn dockerfile(user: &TestUser, sweeper: &Sweeper, name: &str, steps: &str) -> String {
    let (key, value) = sweeper.label();
    user.write_file(
        &format!("{name}/Dockerfile"),
        &format!("FROM {DEBIAN12}\nLABEL {key}=\"{value}\"\n{steps}\n"),
    )
    .display()
    .to_string()
}

fn build(daemon: &TestDaemon, user: &TestUser, name: &str, file: &str) -> Output {
    daemon.ds01(user, &["image", "create", name, "--dockerfile", file])
}

fn spawn_build(daemon: &TestDaemon, user: &TestUser, name: &str, file: &str) -> Child {
    user.command(user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .env("NO_COLOR", "1")
        .args(["image", "create", name, "--dockerfile", file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ds01 starts")
}

/// The images carrying the sweeper's label, intermediate ones included.
fn labelled_images(sweeper: &Sweeper) -> Vec<String> {
    let filter = format!("label={}={}", sweeper.label().0, sweeper.label().1);
    docker(&["images", "-a", "-q", "--filter", &filter])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The containers (running or not) of `uid`'s build steps: those under its build cgroup.
fn step_containers(uid: u32) -> Vec<String> {
    let ids = docker(&["ps", "-aq", "--no-trunc"]);
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["inspect", "-f", "{{.Id}} {{.HostConfig.CgroupParent}}"];
    args.extend(ids.lines());
    let parent = format!("/ds01-build/{uid}");
    docker(&args)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, p)| *p == parent)
        .map(|(id, _)| id.to_owned())
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < PATIENCE,
            "gave up waiting for {what} after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Asserts that nothing of `user`'s build `name` is left: no labelled image, no step
/// container, and the spec not marked built.
fn nothing_left(daemon: &TestDaemon, sweeper: &Sweeper, user: &TestUser, name: &str) {
    assert_eq!(
        labelled_images(sweeper),
        Vec::<String>::new(),
        "{name}: images left"
    );
    assert_eq!(
        step_containers(user.uid()),
        Vec::<String>::new(),
        "{name}: step containers left"
    );
    let list = daemon.ok(
        daemon.ds01(user, &["image", "list", "--json"]),
        "image list",
    );
    for row in serde_json::Deserializer::from_str(&list).into_iter::<serde_json::Value>() {
        let row = row.unwrap();
        if row["name"] == name {
            assert!(row["id"].is_null(), "{name} is marked built: {row}");
        }
    }
}

fn refused(out: &Output, what: &str, needles: &[&str]) {
    ds01_tests::check::refused_saying(out, None, what, needles)
}

#[test]
fn steps_get_the_users_memory_cpus_shm_and_a_bounded_pids() {
    let sweeper = Sweeper::new("builds-limits");
    let setup = Setup::new(
        &sweeper,
        "memory = \"256m\"\ncpus = 0.5\nshm_size = \"64m\"\npids_limit = 64",
    );
    let daemon = &setup.daemon;
    let user = TestUser::plain("blimits");
    // Each check fails its step when the value is not the policy's; the log shows the value.
    let file = dockerfile(
        &user,
        &sweeper,
        "limits",
        r#"RUN set -e; m=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); echo "memory $m"; test "$m" = 268435456; \
    s=/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes; if [ -e $s ]; then echo "memsw $(cat $s)"; test "$(cat $s)" = 268435456; fi; \
    q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); p=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); echo "cpu $q/$p"; test "$q" = 50000 && test "$p" = 100000; \
    m=$(grep ' /dev/shm ' /proc/mounts); echo "shm $m"; echo "$m" | grep -q 'size=65536k'; \
    head -c 100m /dev/zero | tail > /dev/null && echo "100m allocated"; \
    echo "capabilities $(grep CapBnd /proc/self/status)"
RUN sh -c 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); sleep 300 & echo $i > /tmp/forked; done'; read n < /tmp/forked; kill -9 -1; echo "forked $n of 200"; test "$n" -lt 200"#,
    );
    let out = daemon.ds01(
        &user,
        &["-v", "image", "create", "limits", "--dockerfile", &file],
    );
    let log = text(&out.stderr);
    daemon.ok(out, "a build within the limits");
    // The measurements, for the record.
    let measured = [
        "memory ",
        "memsw ",
        "cpu ",
        "shm ",
        "forked ",
        "allocated",
        "capabilities ",
    ];
    for line in log
        .lines()
        .filter(|l| measured.iter().any(|w| l.contains(w)))
    {
        eprintln!("{line}");
    }
    assert!(log.contains("forked "), "{log}");

    daemon.ok(
        daemon.ds01(&user, &["image", "delete", "limits"]),
        "image delete",
    );
    assert_eq!(
        labelled_images(&sweeper),
        Vec::<String>::new(),
        "image delete left some"
    );

    // One step's memory is the policy's: allocating more gets it killed (137), and the
    // failed build leaves nothing, not even the step it had committed before.
    let file = dockerfile(
        &user,
        &sweeper,
        "hog",
        "RUN echo before > /before\nRUN head -c 600m /dev/zero | tail > /dev/null",
    );
    let out = build(daemon, &user, "hog", &file);
    refused(&out, "a build over its memory", &["137"]);
    nothing_left(daemon, &sweeper, &user, "hog");
}

#[test]
fn a_build_too_many_is_refused_and_cancelled_builds_leave_nothing() {
    let sweeper = Sweeper::new("builds-cancel");
    let setup = Setup::new(&sweeper, "max_builds = 1");
    let daemon = &setup.daemon;
    let user = TestUser::ldap("bcancel");
    let uid = user.uid();
    let slow = dockerfile(
        &user,
        &sweeper,
        "slow",
        "RUN echo one > /one\nRUN sleep 600",
    );

    // Cancelled with Ctrl-C: ds01 asks ds01d to cancel the operation and waits for it.
    let first = spawn_build(daemon, &user, "slow", &slow);
    wait_until("the first build's sleep step", || {
        !step_containers(uid).is_empty()
    });
    let quick = dockerfile(&user, &sweeper, "quick", "RUN true");
    let out = build(daemon, &user, "quick", &quick);
    refused(
        &out,
        "a second build at once",
        &["max_builds", "[policy.default]"],
    );
    let list = daemon.ok(
        daemon.ds01(&user, &["image", "list", "--json"]),
        "image list",
    );
    assert!(
        !list.contains("\"quick\""),
        "the refused build saved its spec: {list}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = first.wait_with_output().unwrap();
    refused(&out, "the cancelled build", &["interrupted"]);
    nothing_left(daemon, &sweeper, &user, "slow");

    // The client killed: ds01d sees it gone, cancels and rolls back on its own.
    let mut second = spawn_build(daemon, &user, "slow", &slow);
    wait_until("the second build's sleep step", || {
        !step_containers(uid).is_empty()
    });
    second.kill().unwrap();
    let _ = second.wait();
    wait_until("the killed build's rollback", || {
        step_containers(uid).is_empty() && labelled_images(&sweeper).is_empty()
    });
    nothing_left(daemon, &sweeper, &user, "slow");

    // Both slots were given back: a build runs again.
    let out = build(daemon, &user, "quick", &quick);
    daemon.ok(out, "a build after the cancelled ones");
}

#[test]
fn a_build_over_its_timeout_or_failing_leaves_nothing() {
    let sweeper = Sweeper::new("builds-timeout");
    let setup = Setup::new(&sweeper, "build_timeout = \"20s\"");
    let daemon = &setup.daemon;
    let user = TestUser::plain("btimeout");
    let limits = daemon.ok(daemon.ds01(&user, &["limits"]), "ds01 limits");
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("build_timeout") && l.contains("20s")),
        "{limits}"
    );
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("max_builds") && l.contains("2")),
        "{limits}"
    );

    let slow = dockerfile(
        &user,
        &sweeper,
        "slow",
        "RUN echo one > /one\nRUN sleep 600",
    );
    let out = build(daemon, &user, "slow", &slow);
    refused(
        &out,
        "a build over build_timeout",
        &["build_timeout is 20s", "nothing of it was kept"],
    );
    nothing_left(daemon, &sweeper, &user, "slow");

    let failing = dockerfile(
        &user,
        &sweeper,
        "failing",
        "RUN echo two > /two\nRUN exit 1",
    );
    let out = build(daemon, &user, "failing", &failing);
    refused(&out, "a failing build", &["non-zero code: 1"]);
    nothing_left(daemon, &sweeper, &user, "failing");
}

/// A root-made container for the test: `perl` answers `hello` on port 8000.
fn listener(sweeper: &Sweeper, name: &str, network: &str) -> String {
    let (key, value) = sweeper.label();
    let serve = "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 8000, \
                 Listen => 5, ReuseAddr => 1) or die; while (my $c = $s->accept) { print $c \"hello\\n\"; close $c }";
    docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--label",
        &format!("{key}={value}"),
        "--network",
        network,
        DEBIAN12,
        "perl",
        "-e",
        serve,
    ]);
    docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ])
}

/// What a throwaway container on `network` reads from `ip`:8000.
fn probe(network: &str, ip: &str) -> String {
    docker(&[
        "run",
        "--rm",
        "--network",
        network,
        DEBIAN12,
        "timeout",
        "10",
        "bash",
        "-c",
        &format!("read l < /dev/tcp/{ip}/8000; echo $l"),
    ])
}

#[test]
fn build_steps_reach_the_outside_but_no_other_container() {
    let sweeper = Sweeper::new("builds-net");
    let setup = Setup::new(&sweeper, "memory = \"1g\"\ncpus = 1\npids_limit = 512");
    let daemon = &setup.daemon;
    let user = TestUser::plain("bnet");
    let tag = sweeper.label().1;
    let user_network = format!("ds01-test-usernet-{tag}");
    docker(&[
        "network",
        "create",
        "--label",
        &format!("ds01.test={tag}"),
        &user_network,
    ]);
    struct Gone(Vec<String>, String);
    impl Drop for Gone {
        fn drop(&mut self) {
            for c in &self.0 {
                let _ = Command::new("docker").args(["rm", "-f", c]).output();
            }
            let _ = Command::new("docker")
                .args(["network", "rm", &self.1])
                .output();
        }
    }
    let names = [format!("bnet-default-{tag}"), format!("bnet-user-{tag}")];
    let _gone = Gone(names.to_vec(), user_network.clone());
    let on_default = listener(&sweeper, &names[0], "bridge");
    let on_user_net = listener(&sweeper, &names[1], &user_network);
    // Each listener answers where it is: a refusal from the build is the network's doing.
    wait_until("the listeners", || {
        probe("bridge", &on_default) == "hello" && probe(&user_network, &on_user_net) == "hello"
    });

    let mut steps = String::new();
    for ip in [&on_default, &on_user_net] {
        steps.push_str(&format!(
            "RUN if timeout 10 bash -c 'read l < /dev/tcp/{ip}/8000; echo $l' | grep -q hello; then echo REACHED {ip}; exit 1; fi; echo unreachable {ip}\n"
        ));
    }
    let file = dockerfile(&user, &sweeper, "probe", &steps);
    let out = build(daemon, &user, "probe", &file);
    eprintln!("{}", text(&out.stderr));
    daemon.ok(out, "a build whose steps try other containers");

    // The outside is reached from the same network, with the same limits: apt and pip.
    let out = daemon.ds01(
        &user,
        &[
            "image", "create", "tools", "--base", DEBIAN12, "--apt", "jq", "--pip", "idna",
            "--json",
        ],
    );
    let built: serde_json::Value = serde_json::from_str(&daemon.ok(out, "apt and pip")).unwrap();
    assert_eq!(built["built"], true);
    let network = docker(&[
        "network",
        "inspect",
        "-f",
        "{{index .Options \"com.docker.network.bridge.enable_icc\"}}",
        &setup.network,
    ]);
    assert_eq!(
        network, "false",
        "the build network lets its containers talk"
    );
}
