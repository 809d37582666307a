//! The key-management commands as an operator runs them, against a real `retouch serve`:
//! `keys create` → the server (port 0) answers 401 without the key and 200 with it →
//! `keys revoke` → 401; virtual keys read from stdin; saved configs validated before saving;
//! `config check` on good and bad files. On SQLite always, and on PostgreSQL (a fresh database
//! per test) when `RETOUCH_TEST_DATABASE_URL` is set.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use retouch_test_support::scratch_db::ScratchDatabase;

fn retouch() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_retouch"));
    // The caller's environment must not point the commands elsewhere.
    for var in [
        "RETOUCH_DATA_DIR",
        "RETOUCH_DATABASE_URL",
        "RETOUCH_CONFIG",
        "RETOUCH_MASTER_KEY",
        "RETOUCH_HOST",
        "RETOUCH_PORT",
    ] {
        command.env_remove(var);
    }
    command
}

/// Where one test keeps its state: a data dir, and a database URL on PostgreSQL.
struct Db {
    dir: tempfile::TempDir,
    scratch: Option<ScratchDatabase>,
}

impl Db {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_owned(),
            self.dir.path().join("data").display().to_string(),
        ];
        if let Some(scratch) = &self.scratch {
            args.extend(["--database-url".to_owned(), scratch.url().to_owned()]);
        }
        args
    }

    fn run(&self, args: &[&str]) -> Output {
        retouch().args(args).args(self.args()).output().unwrap()
    }

    async fn finish(self) {
        if let Some(scratch) = self.scratch {
            scratch.drop_database().await.unwrap();
        }
    }
}

async fn databases() -> Vec<Db> {
    let mut all = vec![Db {
        dir: tempfile::tempdir().unwrap(),
        scratch: None,
    }];
    if let Some(scratch) = ScratchDatabase::create("retouch_cli").await.unwrap() {
        all.push(Db {
            dir: tempfile::tempdir().unwrap(),
            scratch: Some(scratch),
        });
    }
    all
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// A running `retouch serve`, killed on drop.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on port 0 and waits for its "listening on" line; `Err` carries stderr when
/// it exits instead.
fn serve(db: &Db, extra: &[&str]) -> Result<Serve, String> {
    let mut child = retouch()
        .args(["serve", "--port", "0", "--auth-cache-ms", "150"])
        .args(extra)
        .args(db.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    match line.trim().strip_prefix("listening on ") {
        Some(base) => Ok(Serve {
            child,
            base: base.to_owned(),
        }),
        None => {
            let output = child.wait_with_output().unwrap();
            Err(text(&output.stderr))
        }
    }
}

async fn status(base: &str, key: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(format!("{base}/v1/models"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn keys_create_serve_and_revoke() {
    for db in databases().await {
        let created = db.run(&["keys", "create", "--name", "ci runner"]);
        assert_ok(&created);
        let stdout = text(&created.stdout);
        let key = stdout.trim();
        // Only the key on stdout, so scripts can capture it.
        assert_eq!(stdout, format!("{key}\n"));
        assert!(key.starts_with("rtk_") && key.len() == 68, "{stdout}");
        assert!(text(&created.stderr).contains("only this once"));

        let server = serve(&db, &[]).unwrap();
        assert_eq!(status(&server.base, None).await, 401);
        assert_eq!(status(&server.base, Some(key)).await, 200);
        let last = if key.ends_with('0') { "1" } else { "0" };
        let wrong = format!("{}{last}", &key[..key.len() - 1]);
        assert_eq!(status(&server.base, Some(&wrong)).await, 401);

        let listed = db.run(&["keys", "list"]);
        assert_ok(&listed);
        let listing = text(&listed.stdout);
        assert!(!listing.contains(key), "{listing}");
        let row = listing
            .lines()
            .find(|l| l.contains("ci runner"))
            .expect("key listed");
        assert!(row.contains(&key[..12]), "{row}");
        let id = row.split_whitespace().next().unwrap();
        assert!(id.starts_with("gk_"), "{row}");

        assert_ok(&db.run(&["keys", "revoke", id]));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(status(&server.base, Some(key)).await, 401);
        let listing = text(&db.run(&["keys", "list"]).stdout);
        let row = listing.lines().find(|l| l.contains(id)).unwrap();
        assert!(
            !row.trim_end().ends_with('-'),
            "revocation time shown: {row}"
        );
        let again = db.run(&["keys", "revoke", id]);
        assert!(!again.status.success());
        assert!(text(&again.stderr).contains(id));
        drop(server);
        db.finish().await;
    }
}

#[tokio::test]
async fn usage_summarises_what_each_key_did() {
    for db in databases().await {
        let created = db.run(&["keys", "create", "--name", "reporting"]);
        assert_ok(&created);
        let key = text(&created.stdout).trim().to_owned();
        let id_line = text(&db.run(&["keys", "list"]).stdout);
        let id = id_line
            .lines()
            .find(|l| l.contains("reporting"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_owned();

        let server = serve(&db, &[]).unwrap();
        // Two edits the server refuses (no image): usage counts failures too.
        for _ in 0..2 {
            let response = reqwest::Client::new()
                .post(format!("{}/v1/images/edits", server.base))
                .bearer_auth(&key)
                .json(&serde_json::json!({"prompt": "fill", "model": "retouch-fill"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 400);
        }
        // Rows are written off the hot path: wait for both.
        let mut summary = String::new();
        for _ in 0..50 {
            let output = db.run(&["usage", "--since", "1h"]);
            assert_ok(&output);
            summary = text(&output.stdout);
            let row = summary.lines().find(|l| l.starts_with(&id)).unwrap_or("");
            if row.split_whitespace().nth(3) == Some("2") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let row = summary
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("no row for {id}: {summary}"));
        let cells: Vec<_> = row.split_whitespace().collect();
        // KEY PROVIDER MODEL REQUESTS FAILED IMAGES …
        assert_eq!(&cells[3..6], ["2", "2", "0"], "{summary}");
        assert!(!summary.contains(&key), "the key itself never appears");

        let requests = text(&db.run(&["usage", "--requests"]).stdout);
        assert_eq!(
            requests.lines().filter(|l| l.contains(&id)).count(),
            2,
            "{requests}"
        );
        assert!(
            requests.lines().skip(1).all(|l| l.contains(" 400 ")),
            "{requests}"
        );
        let other = text(&db.run(&["usage", "--key", "gk_nobody"]).stdout);
        assert_eq!(other.lines().count(), 1, "only the header: {other}");
        drop(server);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_network_address_needs_auth_or_an_explicit_opt_out() {
    let db = Db {
        dir: tempfile::tempdir().unwrap(),
        scratch: None,
    };
    let refused = serve(&db, &["--host", "0.0.0.0"]).err().expect("refused");
    assert!(refused.contains("retouch keys create"), "{refused}");
    // --require-auth (or any gateway key) makes the address acceptable.
    let server = serve(&db, &["--host", "0.0.0.0", "--require-auth"]).unwrap();
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    assert_eq!(status(&format!("http://127.0.0.1:{port}"), None).await, 401);
    drop(server);
    assert_ok(&db.run(&["keys", "create", "--name", "ops"]));
    drop(serve(&db, &["--host", "0.0.0.0"]).unwrap());
}

#[tokio::test]
async fn virtual_keys_come_from_stdin_and_stay_encrypted() {
    for db in databases().await {
        let secret = "sk-cli-virtual-secret-0123456789";
        let mut child = retouch()
            .args([
                "virtual-keys",
                "add",
                "--provider",
                "openai",
                "--id",
                "openai-prod",
            ])
            .args(db.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{secret}\n").as_bytes())
            .unwrap();
        let added = child.wait_with_output().unwrap();
        assert_ok(&added);
        assert_eq!(text(&added.stdout), "openai-prod\n");

        let from_env = retouch()
            .args([
                "virtual-keys",
                "add",
                "--provider",
                "stability-ai",
                "--from-env",
                "SECRET_VAR",
            ])
            .args(db.args())
            .env("SECRET_VAR", "sk-stab-from-env")
            .output()
            .unwrap();
        assert_ok(&from_env);
        let generated = text(&from_env.stdout).trim().to_owned();
        assert!(generated.starts_with("stability-ai-"), "{generated}");

        let bad = db.run(&[
            "virtual-keys",
            "add",
            "--provider",
            "nope",
            "--from-env",
            "PATH",
        ]);
        assert!(!bad.status.success());
        assert!(
            text(&bad.stderr).contains("stability-ai"),
            "lists the providers"
        );

        let listed = db.run(&["virtual-keys", "list"]);
        assert_ok(&listed);
        let listing = text(&listed.stdout);
        assert!(listing.contains("openai-prod") && listing.contains(&generated));
        assert!(!listing.contains(secret));

        // Neither the database nor any other file holds the secret in clear.
        for entry in std::fs::read_dir(db.dir.path().join("data")).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds the secret",
                    path.display()
                );
            }
        }
        assert_ok(&db.run(&["virtual-keys", "delete", "openai-prod"]));
        assert!(
            !db.run(&["virtual-keys", "delete", "openai-prod"])
                .status
                .success()
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn configs_are_validated_before_they_are_saved() {
    for db in databases().await {
        let good = db.dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"strategy":{"mode":"fallback"},"targets":[{"provider":"openai"},{"provider":"local"}]}"#,
        )
        .unwrap();
        let bad = db.dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"strategy":{"mode":"fallback"},"targets":[{"provider":"openai","weight":-1}]}"#,
        )
        .unwrap();
        assert_ok(&db.run(&["configs", "put", "pc-safe", good.to_str().unwrap()]));
        let refused = db.run(&["configs", "put", "pc-bad", bad.to_str().unwrap()]);
        assert!(!refused.status.success());
        let message = text(&refused.stderr);
        assert!(
            message.contains("bad.json") && message.contains("config.targets[0].weight"),
            "{message}"
        );
        let listing = text(&db.run(&["configs", "list"]).stdout);
        assert!(
            listing.contains("pc-safe") && !listing.contains("pc-bad"),
            "{listing}"
        );
        assert_ok(&db.run(&["configs", "delete", "pc-safe"]));
        db.finish().await;
    }
}

fn check(dir: &Path, toml: &str) -> Output {
    let path = dir.join("retouch.toml");
    std::fs::write(&path, toml).unwrap();
    retouch()
        .args(["config", "check", "--config", path.to_str().unwrap()])
        .env("CHECK_TEST_KEY", "sk-from-env")
        .output()
        .unwrap()
}

#[test]
fn config_check_reports_ok_or_every_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"
[server]
port = 9000

[providers.upstream]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "CHECK_TEST_KEY"

[models]
"sd-inpaint" = { provider = "upstream", model = "gpt-image-1" }

[configs.safe]
strategy = { mode = "fallback" }
targets = [{ provider = "upstream" }, { provider = "local" }]

[routes]
default = "safe"
"#;
    let output = check(dir.path(), good);
    assert_ok(&output);
    let summary = text(&output.stdout);
    assert!(summary.starts_with("ok: "), "{summary}");
    assert!(summary.contains("upstream (openai)"), "{summary}");
    assert!(
        summary.contains("sd-inpaint -> upstream/gpt-image-1"),
        "{summary}"
    );
    assert!(summary.contains("default route: config safe"), "{summary}");
    assert!(summary.contains(":9000"), "{summary}");
    assert!(!summary.contains("sk-from-env"), "{summary}");

    let bad = good
        .replace("kind = \"openai\"", "kind = \"openia\"")
        .replace(
            "{ provider = \"local\" }",
            "{ provider = \"local\", weight = -1 }",
        )
        .replace("[server]\n", "[server]\nstore = \"ftp://nowhere\"\n");
    let output = check(dir.path(), &bad);
    assert_eq!(output.status.code(), Some(1));
    let errors = text(&output.stderr);
    assert!(errors.contains("providers.upstream.kind"), "{errors}");
    assert!(
        errors.contains("configs.safe") && errors.contains("targets[1].weight"),
        "{errors}"
    );
    assert!(errors.contains("server.store"), "{errors}");
    assert!(text(&output.stdout).is_empty());

    let typo = check(dir.path(), "[server]\nprot = 1\n");
    assert_eq!(typo.status.code(), Some(1));
    assert!(text(&typo.stderr).contains("prot"));
}
