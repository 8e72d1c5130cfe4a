//! Every command of README.ja.md runs: its ```sh blocks, top to bottom, in one bash session
//! against two real `mycoind` stacks on regtest.
//!
//! The README is written for the book's fixed ports (user N: 800N, 801N, 802N, 803N) and data
//! directories (`./data/userN`); a test must not take fixed ports, so the stacks run on free
//! ports and the session maps them: `mycoin` is the binary under test with user N's URLs in
//! the environment (`--user N` still picks `./data/userN` and its token), `curl` rewrites
//! `localhost:80xy` to user y's port of service x, and `mycoind` checks that the README
//! starts user N on regtest with the other user as its peer — the test started exactly those
//! two stacks, with those arguments, before the session. The ```text block (the build) is not
//! run: the test runs on the binaries it built.

mod common;

use std::process::Command;

use common::*;

/// The ```sh blocks of `markdown`, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(
        current.is_none(),
        "README.ja.md has an unclosed ```sh block"
    );
    blocks
}

#[test]
fn every_command_of_readme_ja_runs() {
    let readme = std::fs::read_to_string(repo_root().join("README.ja.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 3, "{} blocks", blocks.len());

    let work = tempfile::tempdir().unwrap();
    let ports = [free_ports(), free_ports()];
    let peer_url = |user: usize| format!("http://127.0.0.1:{}", ports[user][0]);
    let nodes: Vec<Node> = (0..2)
        .map(|user| {
            Node::start_with(
                tempfile::tempdir().unwrap(),
                work.path().join(format!("data/user{}", user + 1)),
                ports[user],
                &[peer_url(1 - user)],
            )
        })
        .collect();

    let mut prelude = String::from("set -euo pipefail\n");
    prelude.push_str(&format!("MYCOIN_BIN='{}'\n", mycoin_bin().display()));
    prelude.push_str(
        r#"mycoin() {
  local user=1 previous=""
  for arg in "$@"; do
    if [ "$previous" = "--user" ]; then user=$arg; fi
    previous=$arg
  done
  if [ "$user" = 2 ]; then
    MYCOIN_PEER_URL=$U2_PEER MYCOIN_KEYS_URL=$U2_KEYS MYCOIN_WALLET_URL=$U2_WALLET MYCOIN_MINER_URL=$U2_MINER "$MYCOIN_BIN" "$@"
  else
    MYCOIN_PEER_URL=$U1_PEER MYCOIN_KEYS_URL=$U1_KEYS MYCOIN_WALLET_URL=$U1_WALLET MYCOIN_MINER_URL=$U1_MINER "$MYCOIN_BIN" "$@"
  fi
}
curl() {
  local args=() arg
  for arg in "$@"; do
"#,
    );
    for (user, ports) in ports.iter().enumerate() {
        for (service, port) in ports.iter().enumerate() {
            prelude.push_str(&format!(
                "    arg=${{arg//localhost:80{service}{}/127.0.0.1:{port}}}\n",
                user + 1
            ));
        }
    }
    prelude.push_str(
        r#"    args+=("$arg")
  done
  command curl --max-time 60 "${args[@]}"
}
mycoind() {
  case "$*" in
    "--user 1 --network regtest --peer http://127.0.0.1:8002") ;;
    "--user 2 --network regtest --peer http://127.0.0.1:8001") ;;
    *) echo "README.ja.md starts mycoind with $* (not what the test started)" >&2; return 1 ;;
  esac
}
"#,
    );
    let env_names = ["PEER", "KEYS", "WALLET", "MINER"];
    let script = format!("{prelude}\n{}", blocks.join("\n"));
    let mut command = Command::new("timeout");
    command
        .args(["120", "bash", "-c", &script])
        .current_dir(work.path())
        .env_remove("MYCOIN_DATA_DIR")
        .env_remove("MYCOIN_API_TOKEN")
        .env_remove("MYCOIN_USER");
    for (user, node) in nodes.iter().enumerate() {
        for (service, name) in env_names.iter().enumerate() {
            command.env(format!("U{}_{name}", user + 1), node.url(service));
        }
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "README.ja.md failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}\nuser1's log:\n{}",
        output.status,
        nodes[0].log()
    );
    // What the README's comments promise, in the mycoin half.
    for promised in [
        "3 keys\n",
        "state          mempool\n",
        "valid  yes\n",
        "state          confirmed\n",
        "proof        valid\n",
        "balance  2 (pending 0, immature 0)\n",
        "balance  0.5 (pending 0, immature 0)\n",
    ] {
        assert!(stdout.contains(promised), "{promised:?} not in:\n{stdout}");
    }
}
