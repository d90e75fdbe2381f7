//! ds01d's Docker-API socket, used by the clients users have: the `docker` CLI, Debian's
//! docker-compose and the Python `docker` SDK, each run by throwaway unprivileged
//! accounts (one with an LDAP-style login and a 10-digit UID) against a ds01d on a
//! temporary socket. Each shows the workflow working and the boundary holding: another
//! user's containers are invisible, by name and by ID; escapes are refused by the field's
//! name, as through ds01's own API; GPU caps hold; the containers are ds01's (listed by
//! `ds01 container list`, reaped by the policy).

use std::process::Output;
use std::time::{Duration, Instant};

use ds01_tests::check::{docker, inspect, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12, SERVICES};

fn ok(out: Output, what: &str, daemon: &TestDaemon) -> String {
    assert!(
        out.status.success(),
        "{what}: status {:?}\n{}\n{}\n--- ds01d ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr),
        daemon.log()
    );
    text(&out.stdout)
}

/// Asserts that `out` failed and its stderr says each of `needles`.
fn refused(out: &Output, what: &str, needles: &[&str]) {
    ds01_tests::check::refused_saying(out, None, what, needles)
}

fn cli(daemon: &TestDaemon, user: &TestUser, args: &[&str]) -> Output {
    daemon.docker_tool(user, "docker", args)
}

/// The engine's names of the containers whose names end in `._.<uid>`.
fn engine_names(uid: u32) -> Vec<String> {
    docker(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .filter(|n| n.ends_with(&format!("._.{uid}")))
        .map(str::to_owned)
        .collect()
}

/// Waits (at most `limit`) until `done` holds.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_docker_cli_works_on_the_users_own_world_and_nothing_else() {
    let sweeper = Sweeper::new("docker-cli");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::ldap("dcli");
    let bob = TestUser::plain("dcli");
    // The one line a user needs, and the doctor's word on the socket.
    let env = daemon.ok(daemon.ds01(&alice, &["docker-env"]), "ds01 docker-env");
    assert_eq!(
        env,
        format!(
            "export DOCKER_HOST=unix://{}\nexport DOCKER_BUILDKIT=0\n",
            daemon.docker_socket().display()
        )
    );
    let doctor = daemon.ok(daemon.ds01(&alice, &["doctor"]), "ds01 doctor");
    assert!(
        doctor
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("docker socket")),
        "{doctor}"
    );

    let id = ok(
        cli(
            &daemon,
            &alice,
            &["run", "-d", "--name", "web", DEBIAN12, "sleep", "600"],
        ),
        "docker run -d",
        &daemon,
    );
    let id = id.trim();
    let engine_name = format!("web._.{}", alice.uid());
    assert!(inspect(&engine_name, "{{.Id}}").starts_with(id), "{id}");
    let ps = ok(
        cli(&daemon, &alice, &["ps", "--format", "{{.Names}} {{.ID}}"]),
        "ps",
        &daemon,
    );
    assert_eq!(ps.trim(), format!("web {}", &id[..12]));
    // As the user, with ds01's labels, on the user's network, in ds01's limits.
    let who = ok(
        cli(&daemon, &alice, &["exec", "web", "id", "-u"]),
        "exec id",
        &daemon,
    );
    assert_eq!(who.trim(), alice.uid().to_string());
    assert_eq!(
        inspect(&engine_name, "{{.Config.User}}"),
        format!("{}:{}", alice.uid(), alice.gid())
    );
    assert_eq!(
        inspect(
            &engine_name,
            "{{index .Config.Labels \"ds01.container_type\"}}"
        ),
        "docker"
    );
    assert_eq!(
        inspect(&engine_name, "{{.HostConfig.NetworkMode}}"),
        format!("ds01-net-{}", alice.uid())
    );
    assert_eq!(inspect(&engine_name, "{{.HostConfig.Privileged}}"), "false");
    // Exit statuses and stdin pass through the hijacked exec.
    let status = cli(
        &daemon,
        &alice,
        &["exec", "web", "sh", "-c", "echo out; exit 3"],
    );
    assert_eq!(status.status.code(), Some(3), "{}", text(&status.stderr));
    assert_eq!(text(&status.stdout), "out\n");
    let mut piped = alice
        .command("docker")
        .args(["exec", "-i", "web", "tr", "a-z", "A-Z"])
        .env(
            "DOCKER_HOST",
            format!("unix://{}", daemon.docker_socket().display()),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut piped.stdin.take().unwrap(), b"shout\n").unwrap();
    let upper = piped.wait_with_output().unwrap();
    assert_eq!(text(&upper.stdout), "SHOUT\n");
    // A terminal: `docker exec -it` in a real one, typed into.
    let pane = alice.tmux_session(&format!(
        "DOCKER_HOST=unix://{} docker exec -it web bash",
        daemon.docker_socket().display()
    ));
    pane.send_text("echo tty=$(tty) uid=$(id -u); exit 5\n");
    let shown = pane.wait_for(&format!("uid={}", alice.uid()), Duration::from_secs(20));
    assert!(shown.contains("tty=/dev/pts/"), "{shown}");
    // A run in the foreground attaches, and its logs stay.
    let attached = ok(
        cli(
            &daemon,
            &alice,
            &["run", "--name", "once", DEBIAN12, "echo", "hello from once"],
        ),
        "docker run (attached)",
        &daemon,
    );
    assert_eq!(attached, "hello from once\n");
    let logs = ok(cli(&daemon, &alice, &["logs", "once"]), "logs", &daemon);
    assert_eq!(logs, "hello from once\n");
    // --rm: removed by ds01 once it exits, with the image its create committed.
    ok(
        cli(
            &daemon,
            &alice,
            &["run", "--rm", "--name", "gone", DEBIAN12, "true"],
        ),
        "docker run --rm",
        &daemon,
    );
    assert!(!engine_names(alice.uid())
        .iter()
        .any(|n| n.starts_with("gone.")));
    let gone_tag = format!("gone._.{}", alice.uid());
    let tags = docker(&["images", "--format", "{{.Tag}}"]);
    assert!(
        !tags.lines().any(|t| t == gone_tag),
        "--rm left its image: {tags}"
    );
    // Named volumes are the user's: written as the user, kept across containers.
    ok(
        cli(&daemon, &alice, &["volume", "create", "notes"]),
        "volume create",
        &daemon,
    );
    ok(
        cli(
            &daemon,
            &alice,
            &[
                "run",
                "--rm",
                "-v",
                "notes:/notes",
                DEBIAN12,
                "sh",
                "-c",
                "echo kept > /notes/x",
            ],
        ),
        "write into a volume",
        &daemon,
    );
    let kept = ok(
        cli(
            &daemon,
            &alice,
            &[
                "run",
                "--rm",
                "-v",
                "notes:/notes:ro",
                DEBIAN12,
                "cat",
                "/notes/x",
            ],
        ),
        "read it back",
        &daemon,
    );
    assert_eq!(kept, "kept\n");
    let volume = format!("notes._.{}", alice.uid());
    assert_eq!(
        docker(&[
            "volume",
            "inspect",
            "-f",
            "{{index .Labels \"ds01.uid\"}}",
            &volume
        ]),
        alice.uid().to_string()
    );
    let volumes = ok(
        cli(&daemon, &alice, &["volume", "ls", "-q"]),
        "volume ls",
        &daemon,
    );
    assert_eq!(volumes.trim(), "notes");
    let bind_opts = [
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        "device=/",
        "evil",
    ];
    refused(
        &cli(&daemon, &alice, &bind_opts),
        "a local volume over /",
        &["DriverOpts"],
    );
    // ds01's own commands see it.
    let listed = daemon.ok(
        daemon.ds01(&alice, &["container", "list"]),
        "ds01 container list",
    );
    assert!(listed.contains("web"), "{listed}");

    // Escapes, refused by the field's name, leaving nothing.
    let before = engine_names(alice.uid());
    for (flags, field) in [
        (&["--privileged"][..], "HostConfig.Privileged"),
        (&["-v", "/:/host"][..], "HostConfig.Binds"),
        (
            &["--mount", "type=bind,source=/,target=/host"][..],
            "HostConfig.Mounts",
        ),
        (&["--pid", "host"][..], "HostConfig.PidMode=host"),
        (&["--network", "host"][..], "HostConfig.NetworkMode=host"),
        (&["--cap-add", "SYS_ADMIN"][..], "HostConfig.CapAdd"),
        (&["--device", "/dev/mem"][..], "HostConfig.Devices"),
        (&["--user", "0"][..], "User=0"),
        (
            &["--security-opt", "seccomp=unconfined"][..],
            "HostConfig.SecurityOpt",
        ),
        (&["-p", "8080:80"][..], "HostConfig.PortBindings"),
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[DEBIAN12, "true"]);
        refused(
            &cli(&daemon, &alice, &args),
            &format!("docker run {flags:?}"),
            &[field, "refused"],
        );
    }
    let root_exec = cli(&daemon, &alice, &["exec", "-u", "0", "web", "id"]);
    refused(&root_exec, "exec -u 0", &["User=0"]);
    let privileged_exec = cli(&daemon, &alice, &["exec", "--privileged", "web", "id"]);
    refused(&privileged_exec, "exec --privileged", &["Privileged"]);
    assert_eq!(
        engine_names(alice.uid()),
        before,
        "a refused create left something"
    );

    // Another user: nothing of alice's, by name or by ID, and the same answer as for
    // nothing at all.
    let bob_ps = ok(
        cli(&daemon, &bob, &["ps", "-a", "--format", "{{.Names}}"]),
        "bob ps",
        &daemon,
    );
    assert_eq!(bob_ps, "");
    for reference in ["web", id, &id[..12], &engine_name] {
        for args in [
            vec!["exec", reference, "id"],
            vec!["logs", reference],
            vec!["stop", reference],
            vec!["rm", reference],
            vec!["container", "inspect", reference],
        ] {
            let out = cli(&daemon, &bob, &args);
            refused(
                &out,
                &format!("bob: docker {args:?}"),
                &[&format!("No such container: {reference}")],
            );
        }
    }
    let theirs = cli(&daemon, &bob, &["volume", "inspect", "notes"]);
    refused(&theirs, "bob: alice's volume", &["no such volume"]);
    assert_eq!(
        ok(
            cli(&daemon, &bob, &["volume", "ls", "-q"]),
            "bob's volumes",
            &daemon
        ),
        ""
    );
    // Bob's `notes` is his own, empty.
    let his = cli(
        &daemon,
        &bob,
        &[
            "run",
            "--rm",
            "-v",
            "notes:/notes",
            DEBIAN12,
            "cat",
            "/notes/x",
        ],
    );
    assert!(
        !his.status.success() && text(&his.stdout).is_empty(),
        "{}",
        text(&his.stdout)
    );
    ok(
        cli(&daemon, &bob, &["volume", "rm", "notes"]),
        "bob removes his own",
        &daemon,
    );
    assert!(
        docker(&["volume", "ls", "-q"]).lines().any(|v| v == volume),
        "bob's rm took alice's"
    );
    let missing = cli(&daemon, &bob, &["exec", "nothing-here", "id"]);
    refused(
        &missing,
        "bob: a name nobody has",
        &["No such container: nothing-here"],
    );
    assert!(
        inspect(&engine_name, "{{.State.Running}}") == "true",
        "bob reached alice's container"
    );

    ok(
        cli(&daemon, &alice, &["rm", "-f", "web", "once"]),
        "rm -f",
        &daemon,
    );
    assert!(engine_names(alice.uid()).is_empty());
    ok(
        cli(&daemon, &alice, &["volume", "rm", "notes"]),
        "volume rm",
        &daemon,
    );
}

/// The two-service Compose project of the README: a Python web app that counts its visits
/// in Redis, reached by the service's name on the user's network.
fn compose_file() -> String {
    let app = r#"import http.server, redis
r = redis.Redis(host="redis", port=6379)
class Hits(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = r.incr("hits")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(f"hits={n}\n".encode())
http.server.HTTPServer(("0.0.0.0", 8000), Hits).serve_forever()
"#;
    format!(
        "version: \"3.8\"\nservices:\n  redis:\n    image: {SERVICES}\n    command: [\"redis-server\", \"--protected-mode\", \"no\", \"--save\", \"\", \"--appendonly\", \"yes\", \"--dir\", \"/cache\"]\n    volumes: [\"cache:/cache\"]\n  web:\n    image: {SERVICES}\n    command: [\"python3\", \"-c\", {}]\n    depends_on: [redis]\nvolumes:\n  cache: {{}}\n",
        serde_json::to_string(app).unwrap()
    )
}

#[test]
fn docker_compose_brings_up_two_services_that_talk_over_the_users_network() {
    let sweeper = Sweeper::new("docker-compose");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let carol = TestUser::ldap("dcomp");
    let dave = TestUser::plain("dcomp");
    carol.write_file("shop/docker-compose.yml", &compose_file());
    let compose = |user: &TestUser, args: &[&str]| {
        let mut all = vec![
            "--project-directory",
            "shop",
            "-f",
            "shop/docker-compose.yml",
        ];
        all.extend_from_slice(args);
        daemon.docker_tool(user, "docker-compose", &all)
    };
    ok(
        compose(&carol, &["up", "-d"]),
        "docker-compose up -d",
        &daemon,
    );
    let mut names = engine_names(carol.uid());
    names.sort();
    assert_eq!(
        names,
        [
            format!("shop_redis_1._.{}", carol.uid()),
            format!("shop_web_1._.{}", carol.uid())
        ]
    );
    assert_eq!(
        inspect(
            &names[0],
            "{{index .Config.Labels \"ds01.container_type\"}}"
        ),
        "compose"
    );
    // The web service answers by its service name, and counts in Redis.
    let fetch = "import time, urllib.request as u\nfor _ in range(60):\n    try:\n        print(u.urlopen('http://web:8000').read().decode().strip()); break\n    except Exception:\n        time.sleep(0.5)\n";
    let first = ok(
        compose(&carol, &["exec", "-T", "web", "python3", "-c", fetch]),
        "first visit",
        &daemon,
    );
    let second = ok(
        compose(&carol, &["exec", "-T", "web", "python3", "-c", fetch]),
        "second visit",
        &daemon,
    );
    assert_eq!((first.trim(), second.trim()), ("hits=1", "hits=2"));
    // Redis keeps its append-only files in the project's volume, written as carol.
    let cache = format!("shop_cache._.{}", carol.uid());
    let label = format!("ds01.test={}", sweeper.label().1);
    let owners = docker(&[
        "run",
        "--rm",
        "--label",
        &label,
        "-v",
        &format!("{cache}:/c"),
        DEBIAN12,
        "sh",
        "-c",
        "stat -c %u /c /c/*",
    ]);
    let uid = carol.uid().to_string();
    assert!(
        owners.lines().count() >= 2 && owners.lines().all(|o| o == uid),
        "{owners}"
    );
    let ps = ok(compose(&carol, &["ps"]), "docker-compose ps", &daemon);
    assert!(ps.contains("shop_web_1") && ps.contains("Up"), "{ps}");
    // Changing the file recreates the service (Compose renames the old container first).
    carol.write_file(
        "shop/docker-compose.yml",
        &compose_file().replace("\"--save\", \"\"", "\"--save\", \"\", \"--port\", \"6379\""),
    );
    ok(
        compose(&carol, &["up", "-d"]),
        "docker-compose up -d (changed)",
        &daemon,
    );
    assert_eq!(
        engine_names(carol.uid()).len(),
        2,
        "{:?}",
        engine_names(carol.uid())
    );
    // Another user's Compose sees nothing of carol's project, and cannot take it down.
    let theirs = ok(
        daemon.docker_tool(&dave, "docker", &["ps", "-a", "-q"]),
        "dave ps",
        &daemon,
    );
    assert_eq!(theirs, "");
    dave.write_file("shop/docker-compose.yml", &compose_file());
    ok(
        compose(&dave, &["down"]),
        "dave: docker-compose down",
        &daemon,
    );
    assert_eq!(
        engine_names(carol.uid()).len(),
        2,
        "dave's down took carol's"
    );
    ok(
        compose(&carol, &["down", "-v"]),
        "docker-compose down -v",
        &daemon,
    );
    assert!(engine_names(carol.uid()).is_empty());
    let volumes = docker(&["volume", "ls", "-q"]);
    assert!(!volumes.lines().any(|v| v == cache), "down -v left {cache}");
}

const SDK_SCRIPT: &str = r#"
import json, sys, docker
client = docker.from_env()
out = {"api": client.version()["ApiVersion"]}
out["run"] = client.containers.run(sys.argv[1], ["id", "-u"], remove=True).decode().strip()
box = client.containers.run(sys.argv[1], ["sleep", "300"], name="sdk", detach=True)
out["list"] = [c.name for c in client.containers.list()]
code, said = box.exec_run(["sh", "-c", "id -un; exit 4"])
out["exec"] = [code, said.decode().strip()]
# What the devcontainer CLI does: create with its labels, exec as the remote user, inspect.
dev = client.containers.create(sys.argv[1], ["sleep", "300"], name="dev",
    labels={"devcontainer.local_folder": sys.argv[2], "devcontainer.config_file": sys.argv[2] + "/.devcontainer/devcontainer.json"})
dev.start()
code, said = dev.exec_run(["whoami"], user=out["exec"][1])
out["dev_exec"] = [code, said.decode().strip()]
dev.reload()
out["dev_labels"] = dev.labels.get("devcontainer.local_folder")
refusals = {}
for name, kwargs in [("privileged", {"privileged": True}), ("pid", {"pid_mode": "host"}),
                     ("bind", {"volumes": {"/": {"bind": "/host"}}}), ("cap", {"cap_add": ["NET_ADMIN"]})]:
    try:
        client.containers.run(sys.argv[1], "true", detach=True, **kwargs)
        refusals[name] = "created"
    except docker.errors.APIError as e:
        refusals[name] = e.explanation
out["refusals"] = refusals
try:
    client.containers.get(sys.argv[3])
    out["other"] = "found"
except docker.errors.NotFound as e:
    out["other"] = e.explanation
# docker build: the Dockerfile alone, built as ds01 builds, named in the caller's repository.
import io
dockerfile = "FROM " + sys.argv[1] + "\nRUN echo built > /etc/ds01-built\n"
image, log = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag="tool", rm=True)
out["built_tags"] = image.tags
out["built_log"] = any("ds01-built" in (l.get("stream") or "") for l in log)
out["built_run"] = client.containers.run(image.tags[0], ["sh", "-c", "cat /etc/ds01-built; id -u"], remove=True).decode().split()
try:
    client.images.build(fileobj=io.BytesIO(b"FROM " + sys.argv[1].encode() + b"\nCOPY app.py /app.py\n"), tag="copies")
    out["copy_build"] = "built"
except docker.errors.APIError as e:
    out["copy_build"] = e.explanation
except docker.errors.BuildError as e:
    out["copy_build"] = str(e)
for c in client.containers.list(all=True):
    c.remove(force=True)
out["left"] = [c.name for c in client.containers.list(all=True)]
print(json.dumps(out))
"#;

#[test]
fn the_python_sdk_and_the_devcontainer_calls_work_and_hold_the_boundary() {
    let sweeper = Sweeper::new("docker-sdk");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let erin = TestUser::ldap("dsdk");
    let frank = TestUser::plain("dsdk");
    let franks = ok(
        cli(
            &daemon,
            &frank,
            &["run", "-d", "--name", "private", DEBIAN12, "sleep", "300"],
        ),
        "frank's container",
        &daemon,
    );
    let franks = franks.trim().to_owned();
    let folder = erin.home().join("project").display().to_string();
    let out = daemon.docker_tool(
        &erin,
        "/usr/bin/python3",
        &["-c", SDK_SCRIPT, DEBIAN12, &folder, &franks],
    );
    let said: serde_json::Value =
        serde_json::from_str(ok(out, "the SDK script", &daemon).trim()).unwrap();
    assert_eq!(said["api"], "1.41");
    assert_eq!(said["run"], erin.uid().to_string());
    assert_eq!(said["list"], serde_json::json!(["sdk"]));
    // The account in the container is the user's (its name is the login made a Unix name).
    let account = said["exec"][1].as_str().unwrap_or_default();
    assert_eq!(said["exec"][0], 4);
    assert!(
        account.starts_with(erin.login().split('.').next().unwrap()),
        "{account}"
    );
    assert_eq!(said["dev_exec"], serde_json::json!([0, account]));
    assert_eq!(said["dev_labels"], folder.as_str());
    for (name, field) in [
        ("privileged", "HostConfig.Privileged"),
        ("pid", "HostConfig.PidMode=host"),
        ("bind", "HostConfig.Binds"),
        ("cap", "HostConfig.CapAdd"),
    ] {
        let why = said["refusals"][name].as_str().unwrap_or_default();
        assert!(why.contains(field), "{name}: {why}");
    }
    assert_eq!(said["other"], format!("No such container: {franks}"));
    assert_eq!(said["left"], serde_json::json!([]));
    let own = format!("ds01-{}/tool:latest", erin.uid());
    assert_eq!(said["built_tags"], serde_json::json!([own]));
    assert_eq!(
        said["built_log"], true,
        "the build's own output reached the SDK"
    );
    assert_eq!(
        said["built_run"],
        serde_json::json!(["built", erin.uid().to_string()])
    );
    let copy = said["copy_build"].as_str().unwrap_or_default();
    assert!(copy.contains("COPY and ADD of the build context"), "{copy}");
    // Frank cannot use erin's image, by its name or its ID, and is told exactly what he
    // would be told of an image that does not exist.
    let id = inspect(&own, "{{.Id}}");
    let fake_name = format!("ds01-{}/nothing:latest", erin.uid());
    let fake_id = format!("sha256:{}", "0".repeat(64));
    for (reference, fake) in [
        (own.as_str(), fake_name.as_str()),
        (id.as_str(), fake_id.as_str()),
        (&id[7..19], &fake_id[7..19]),
    ] {
        let theirs = cli(&daemon, &frank, &["run", "--rm", reference, "true"]);
        let none = cli(&daemon, &frank, &["run", "--rm", fake, "true"]);
        assert!(
            !theirs.status.success(),
            "frank ran erin's image {reference}"
        );
        assert_eq!(
            text(&theirs.stderr).replace(reference, "IMAGE"),
            text(&none.stderr).replace(fake, "IMAGE"),
            "frank's answer for erin's {reference} differs from one for nothing"
        );
    }
    assert!(inspect(&format!("private._.{}", frank.uid()), "{{.State.Running}}") == "true");
    assert!(engine_names(erin.uid()).is_empty());
}

const INVENTORY: &str = r#"
[[gpu]]
index = 0
uuid = "GPU-00000000-dock"
name = "NVIDIA H100 80GB HBM3"
[[gpu]]
index = 1
uuid = "GPU-11111111-dock"
name = "NVIDIA H100 80GB HBM3"
"#;

#[test]
fn gpu_caps_and_the_reaper_hold_for_containers_made_with_docker() {
    let sweeper = Sweeper::new("docker-gpus");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let policy = format!(
        "[gpus]\ninventory = \"{}\"\n[lifecycle]\ncheck_interval = \"2s\"\nidle_cpu_percent = 5\nstop_grace = \"1s\"\n[policy.default]\nmax_gpus = 1\nidle_timeout = \"1h\"\n[container_types.docker]\nidle_timeout = \"12s\"\n",
        inventory.display()
    );
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, &policy));
    let gina = TestUser::ldap("dgpu");
    let hank = TestUser::plain("dgpu");
    ok(
        cli(
            &daemon,
            &gina,
            &[
                "run", "-d", "--gpus", "1", "--name", "train", DEBIAN12, "sleep", "600",
            ],
        ),
        "docker run --gpus 1",
        &daemon,
    );
    let engine_name = format!("train._.{}", gina.uid());
    let env = inspect(&engine_name, "{{json .Config.Env}}");
    assert!(env.contains("NVIDIA_VISIBLE_DEVICES=GPU-"), "{env}");
    let over = cli(
        &daemon,
        &gina,
        &[
            "run", "-d", "--gpus", "1", "--name", "more", DEBIAN12, "true",
        ],
    );
    refused(&over, "a second GPU over max_gpus = 1", &["max_gpus"]);
    let all = cli(
        &daemon,
        &gina,
        &[
            "run", "-d", "--gpus", "all", "--name", "all", DEBIAN12, "true",
        ],
    );
    refused(&all, "--gpus all", &["`all` would take every GPU"]);
    // The other GPU is hank's to take; then none is left.
    ok(
        cli(
            &daemon,
            &hank,
            &[
                "run", "-d", "--gpus", "1", "--name", "mine", DEBIAN12, "sleep", "600",
            ],
        ),
        "hank's GPU",
        &daemon,
    );
    let hanks = inspect(&format!("mine._.{}", hank.uid()), "{{json .Config.Env}}");
    assert!(
        hanks.contains("NVIDIA_VISIBLE_DEVICES=GPU-") && hanks != env,
        "{hanks} vs {env}"
    );
    // An idle container of ds01's own stays under the policy's hour.
    daemon.ok(
        daemon.ds01(
            &gina,
            &[
                "container",
                "create",
                "atom",
                "--image",
                DEBIAN12,
                "--start",
                "--cpu-only",
            ],
        ),
        "ds01 container create",
    );
    // The reaper stops the idle one by the `docker` type's timeout, and `ds01 why` says so
    // to its owner.
    wait_until(
        Duration::from_secs(90),
        "the idle container stopped",
        || inspect(&engine_name, "{{.State.Running}}") == "false",
    );
    let why = daemon.ok(daemon.ds01(&gina, &["why", "train"]), "ds01 why");
    assert!(why.contains("idle"), "{why}");
    assert_eq!(
        inspect(&format!("atom._.{}", gina.uid()), "{{.State.Running}}"),
        "true",
        "the docker type's timeout reached a container of ds01's own"
    );
}
