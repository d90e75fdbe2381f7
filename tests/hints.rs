//! The hints users read under a refusal, as they see them: a throwaway unprivileged user (an
//! LDAP-style login at a 10-digit UID) runs `ds01` against a ds01d on a temporary socket.
//! ds01d's messages name no flags; the hint, chosen by the error's reason, names this
//! command line's commands and flags.

use ds01_tests::check::refused;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

#[test]
fn refusals_carry_the_hint_of_their_reason() {
    let sweeper = Sweeper::new("hints");
    let user = TestUser::ldap("hints");
    let capped = TestUser::plain("hints");
    let policy = format!(
        "[policy.users.\"{}\"]\nmax_containers = 1\n",
        capped.login()
    );
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, &policy));
    let run = |args: &[&str]| daemon.ds01(&user, args);

    // Before any container: the per-user cap is not in the way.
    refused(
        run(&["container", "create", "nothing"]),
        1,
        "a create that names no image",
        "\n  build it with `ds01 image create nothing`, or pass --image IMAGE or --framework FW",
    );
    let out = run(&[
        "container",
        "create",
        "gpu",
        "--image",
        DEBIAN12,
        "--gpus",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("no GPUs that ds01d knows of")
            && !stderr.lines().next().unwrap_or("").contains("--gpus"),
        "the service's words name no flag: {stderr}"
    );
    refused(
        out,
        1,
        "GPUs on a server without any",
        "\n  create it without --gpus",
    );

    daemon.ok(
        run(&["container", "create", "box", "--image", DEBIAN12]),
        "create",
    );
    refused(
        run(&["container", "exec", "box", "--", "true"]),
        1,
        "exec in a stopped container",
        "\n  start it with `ds01 container start box`",
    );
    refused(
        run(&["container", "create", "box", "--image", DEBIAN12]),
        1,
        "a name in use",
        "\n  pick another name, or remove it with `ds01 container remove box`",
    );
    let capped_create =
        |name: &str| daemon.ds01(&capped, &["container", "create", name, "--image", DEBIAN12]);
    daemon.ok(capped_create("first"), "the capped user's first container");
    refused(
        capped_create("second"),
        1,
        "a second container over max_containers = 1",
        "\n  `ds01 limits` shows your limits; `ds01 container remove NAME` frees one",
    );
    refused(
        run(&["container", "show", "nosuch"]),
        1,
        "a container that is not there",
        "\n  `ds01 container list` shows yours",
    );
    refused(
        run(&["image", "update", "nosuch", "--add", "numpy"]),
        1,
        "an image spec that is not there",
        "\n  create it with `ds01 image create nosuch`",
    );
    daemon.ok(run(&["container", "start", "box"]), "start");
    refused(
        run(&["container", "remove", "box", "--yes"]),
        1,
        "removing a running container",
        "\n  stop it first (`ds01 container stop box`) or pass --force",
    );
    daemon.ok(
        run(&[
            "container",
            "remove",
            "box",
            "--force",
            "--yes",
            "--volumes",
        ]),
        "remove",
    );
}
