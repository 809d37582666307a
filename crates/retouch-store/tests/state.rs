//! State store behaviour on SQLite (a fresh file in a temp dir, always) and on PostgreSQL
//! (a fresh database per test, when `RETOUCH_TEST_DATABASE_URL` is set).
//!
//! To run the PostgreSQL half locally (initdb refuses to run as root, hence `su postgres`):
//!
//! ```sh
//! mkdir -p /tmp/retouch-pg && chown postgres /tmp/retouch-pg
//! su postgres -c "initdb -D /tmp/retouch-pg/data -U postgres --auth=trust && \
//!   pg_ctl -D /tmp/retouch-pg/data -l /tmp/retouch-pg/pg.log \
//!     -o '-p 55432 -k /tmp/retouch-pg -c listen_addresses=127.0.0.1' start"
//! RETOUCH_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:55432/postgres \
//!   cargo test -p retouch-store --test state
//! su postgres -c "pg_ctl -D /tmp/retouch-pg/data stop"
//! ```
//!
//! Each test creates its own database `retouch_test_<unique>` on that server and drops it
//! afterwards, so runs are independent and can go in parallel.
#![expect(
    clippy::unwrap_used,
    reason = "shared test helpers outside #[test] fns fail loudly by design"
)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use retouch_store::state::usage::MAX_USAGE_ROWS;
use retouch_store::{
    GATEWAY_KEY_PREFIX, MasterKey, StateStore, StoreError, UsageQuery, UsageRecord,
    looks_like_gateway_key,
};
use retouch_test_support::scratch_db::ScratchDatabase;

/// A database for one test, dropped (Postgres) or deleted (SQLite temp dir) at the end.
struct TestDb {
    store: StateStore,
    scratch: Option<ScratchDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn finish(self) {
        self.store.close().await;
        if let Some(scratch) = self.scratch {
            scratch.drop_database().await.unwrap();
        }
    }
}

async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::connect_sqlite_file(&dir.path().join("retouch.db"))
        .await
        .unwrap();
    TestDb {
        store,
        scratch: None,
        _dir: Some(dir),
    }
}

async fn postgres_db() -> Option<TestDb> {
    let scratch = ScratchDatabase::create("retouch_test").await.unwrap()?;
    let store = StateStore::connect(scratch.url()).await.unwrap();
    Some(TestDb {
        store,
        scratch: Some(scratch),
        _dir: None,
    })
}

/// Runs `check` on SQLite, then on PostgreSQL when configured.
macro_rules! on_every_backend {
    ($check:ident) => {{
        let db = sqlite_db().await;
        $check(&db.store).await;
        db.finish().await;
        if let Some(db) = postgres_db().await {
            $check(&db.store).await;
            db.finish().await;
        }
    }};
}

fn master() -> MasterKey {
    MasterKey::from_hex(&"ab".repeat(32)).unwrap()
}

async fn gateway_keys(store: &StateStore) {
    assert!(!store.has_gateway_keys().await.unwrap());
    let (a, a_key) = store.create_gateway_key("ci runner").await.unwrap();
    let (b, b_key) = store.create_gateway_key("  playground  ").await.unwrap();
    assert!(looks_like_gateway_key(a_key.expose()));
    assert!(a_key.expose().starts_with(GATEWAY_KEY_PREFIX));
    assert!(a_key.expose().starts_with(&a.prefix));
    assert_eq!(a.prefix.len(), 12);
    assert_eq!(b.name, "playground");
    assert_ne!(a_key, b_key);
    assert!(store.has_gateway_keys().await.unwrap());

    assert_eq!(
        store.verify_gateway_key(a_key.expose()).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.verify_gateway_key(b_key.expose()).await.unwrap(),
        Some(b.clone())
    );
    // Wrong, truncated, foreign-shaped keys do not verify.
    let mut wrong = a_key.expose().to_owned();
    wrong.replace_range(20..21, if &wrong[20..21] == "0" { "1" } else { "0" });
    assert_eq!(store.verify_gateway_key(&wrong).await.unwrap(), None);
    assert_eq!(
        store
            .verify_gateway_key(&a_key.expose()[..40])
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.verify_gateway_key("sk-proj-123").await.unwrap(), None);
    assert_eq!(store.verify_gateway_key("").await.unwrap(), None);

    let listed = store.list_gateway_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&a) && listed.contains(&b));

    assert!(store.revoke_gateway_key(&a.id).await.unwrap());
    assert!(
        !store.revoke_gateway_key(&a.id).await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_gateway_key("gk_nope").await.unwrap());
    assert_eq!(
        store.verify_gateway_key(a_key.expose()).await.unwrap(),
        None
    );
    assert!(
        store
            .verify_gateway_key(b_key.expose())
            .await
            .unwrap()
            .is_some()
    );
    let revoked = store
        .list_gateway_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.id == a.id)
        .unwrap();
    assert!(revoked.revoked_at.is_some());

    for bad in ["", "   ", "a\nb", &"x".repeat(129)] {
        assert!(matches!(
            store.create_gateway_key(bad).await,
            Err(StoreError::Invalid(_))
        ));
    }
}

async fn virtual_keys(store: &StateStore) {
    let m = master();
    let vk = store
        .create_virtual_key(&m, "openai-prod", "openai", "sk-live-VIRTUAL-SECRET-1")
        .await
        .unwrap();
    assert_eq!(
        (vk.id.as_str(), vk.provider.as_str()),
        ("openai-prod", "openai")
    );
    store
        .create_virtual_key(&m, "stab", "stability-ai", "sk-stab-VIRTUAL-SECRET-2")
        .await
        .unwrap();

    let (got, secret) = store
        .get_virtual_key_decrypted(&m, "openai-prod")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, vk);
    assert_eq!(secret.expose(), "sk-live-VIRTUAL-SECRET-1");
    assert!(!format!("{got:?} {secret:?} {secret}").contains("VIRTUAL-SECRET"));
    assert!(
        store
            .get_virtual_key_decrypted(&m, "missing")
            .await
            .unwrap()
            .is_none()
    );

    // Another master key cannot read it, and says so without leaking anything.
    let other = MasterKey::from_hex(&"cd".repeat(32)).unwrap();
    let err = store
        .get_virtual_key_decrypted(&other, "openai-prod")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Crypto(_)));
    assert!(!err.to_string().contains("VIRTUAL-SECRET"));

    assert!(matches!(
        store
            .create_virtual_key(&m, "openai-prod", "openai", "x")
            .await,
        Err(StoreError::Conflict(_))
    ));
    for (id, provider, secret) in [
        ("bad id", "openai", "x"),
        ("../x", "openai", "x"),
        ("ok", "", "x"),
        ("ok", "openai", ""),
    ] {
        assert!(matches!(
            store.create_virtual_key(&m, id, provider, secret).await,
            Err(StoreError::Invalid(_))
        ));
    }

    let listed = store.list_virtual_keys().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["openai-prod", "stab"]);
    assert!(!format!("{listed:?}").contains("VIRTUAL-SECRET"));

    assert!(store.delete_virtual_key("stab").await.unwrap());
    assert!(!store.delete_virtual_key("stab").await.unwrap());
    assert!(
        store
            .get_virtual_key_decrypted(&m, "stab")
            .await
            .unwrap()
            .is_none()
    );
}

async fn configs(store: &StateStore) {
    let body = r#"{"strategy":{"mode":"fallback"},"targets":[{"provider":"openai"},{"provider":"local"}]}"#;
    let saved = store.put_config("pc-fallback-1", body).await.unwrap();
    assert_eq!(saved.body, body);
    assert_eq!(saved.created_at, saved.updated_at);
    let got = store.get_config("pc-fallback-1").await.unwrap().unwrap();
    assert_eq!(got, saved);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let replaced = store
        .put_config("pc-fallback-1", r#"{"provider":"local"}"#)
        .await
        .unwrap();
    assert_eq!(replaced.body, r#"{"provider":"local"}"#);
    assert_eq!(replaced.created_at, saved.created_at);
    assert!(replaced.updated_at > saved.updated_at);

    store.put_config("pc-a", "{}").await.unwrap();
    let ids: Vec<_> = store
        .list_configs()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["pc-a", "pc-fallback-1"]);

    for bad in ["", "not json", "[1,2]", "\"s\"", "{\"a\":"] {
        assert!(matches!(
            store.put_config("pc-b", bad).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(300 * 1024));
    assert!(matches!(
        store.put_config("pc-b", &huge).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.put_config("pc/../b", "{}").await,
        Err(StoreError::Invalid(_))
    ));

    assert!(store.delete_config("pc-a").await.unwrap());
    assert!(!store.delete_config("pc-a").await.unwrap());
    assert!(store.get_config("pc-a").await.unwrap().is_none());
}

fn usage(request_id: &str, at: SystemTime, key_id: Option<&str>) -> UsageRecord {
    UsageRecord {
        request_id: request_id.to_owned(),
        at,
        provider: "local".to_owned(),
        model: "retouch-fill".to_owned(),
        n: 3,
        status: 200,
        latency_ms: 812,
        bytes_in: 4_000_000,
        bytes_out: 9_000_000_000,
        key_id: key_id.map(str::to_owned),
    }
}

async fn usage_records(store: &StateStore) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let at = |s: u64| t0 + Duration::from_secs(s);
    store
        .insert_usage(&usage("r1", at(0), Some("gk_a")))
        .await
        .unwrap();
    store
        .insert_usage(&usage("r2", at(10), None))
        .await
        .unwrap();
    store
        .insert_usage(&usage("r3", at(20), Some("gk_b")))
        .await
        .unwrap();
    store
        .insert_usage(&usage("r4", at(30), Some("gk_a")))
        .await
        .unwrap();
    // The same request id twice (a client reusing x-request-id) is kept, not refused.
    let mut failed = usage("r4", at(31), Some("gk_a"));
    failed.status = 502;
    failed.n = 0;
    store.insert_usage(&failed).await.unwrap();

    let ids = |rows: Vec<UsageRecord>| -> Vec<String> {
        rows.into_iter().map(|r| r.request_id).collect()
    };
    let all = store.query_usage(&UsageQuery::default()).await.unwrap();
    assert_eq!(all[0], failed);
    assert_eq!(all[4], usage("r1", at(0), Some("gk_a")));
    assert_eq!(ids(all), ["r4", "r4", "r3", "r2", "r1"]);

    let for_a = UsageQuery {
        key_id: Some("gk_a".to_owned()),
        ..UsageQuery::default()
    };
    assert_eq!(
        ids(store.query_usage(&for_a).await.unwrap()),
        ["r4", "r4", "r1"]
    );
    let window = UsageQuery {
        since: Some(at(10)),
        until: Some(at(30)),
        ..UsageQuery::default()
    };
    assert_eq!(ids(store.query_usage(&window).await.unwrap()), ["r3", "r2"]);
    let limited = UsageQuery {
        limit: 2,
        ..UsageQuery::default()
    };
    assert_eq!(
        ids(store.query_usage(&limited).await.unwrap()),
        ["r4", "r4"]
    );
    let huge_limit = UsageQuery {
        limit: MAX_USAGE_ROWS + 5,
        ..UsageQuery::default()
    };
    assert_eq!(store.query_usage(&huge_limit).await.unwrap().len(), 5);
}

#[tokio::test]
async fn gateway_keys_are_hashed_verified_and_revoked() {
    on_every_backend!(gateway_keys);
}

#[tokio::test]
async fn virtual_keys_are_encrypted_and_bound_to_their_row() {
    on_every_backend!(virtual_keys);
}

#[tokio::test]
async fn configs_are_saved_replaced_and_deleted() {
    on_every_backend!(configs);
}

#[tokio::test]
async fn usage_is_recorded_and_queried() {
    on_every_backend!(usage_records);
}

fn read_dir_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_secret_reaches_the_sqlite_files() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("retouch.db");
    let store = StateStore::connect_sqlite_file(&db_path).await.unwrap();
    let m = MasterKey::load_or_create(&dir.path().join("master-key")).unwrap();
    let provider_secret = "sk-PLAINTEXT-provider-secret-0123456789";
    store
        .create_virtual_key(&m, "vk1", "openai", provider_secret)
        .await
        .unwrap();
    let (_, gateway_key) = store.create_gateway_key("probe").await.unwrap();
    // Look in the main file and the write-ahead log while open, and again after close.
    let open_bytes = read_dir_bytes(dir.path());
    store.close().await;
    let closed_bytes = read_dir_bytes(dir.path());
    for bytes in [&open_bytes, &closed_bytes] {
        assert!(
            contains(bytes, b"vk1"),
            "the probe must see the data it looks through"
        );
        assert!(!contains(bytes, provider_secret.as_bytes()));
        assert!(!contains(bytes, gateway_key.expose().as_bytes()));
        // Not even the secret part of the gateway key after its displayed prefix.
        assert!(!contains(bytes, &gateway_key.expose().as_bytes()[12..]));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for name in ["retouch.db", "master-key"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
    }
    // Reopening with the same master key file reads the virtual key back.
    let store = StateStore::connect_sqlite_file(&db_path).await.unwrap();
    let m2 = MasterKey::load_or_create(&dir.path().join("master-key")).unwrap();
    let (_, secret) = store
        .get_virtual_key_decrypted(&m2, "vk1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.expose(), provider_secret);
    assert!(
        store
            .verify_gateway_key(gateway_key.expose())
            .await
            .unwrap()
            .is_some()
    );
    store.close().await;
}

#[tokio::test]
async fn connect_urls() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("via-url.db").display()
    );
    let store = StateStore::connect(&url).await.unwrap();
    assert!(format!("{store:?}").contains("sqlite"));
    store.close().await;
    // Migrations are idempotent: reconnecting to a migrated file works.
    StateStore::connect(&url).await.unwrap().close().await;
    let err = StateStore::connect("mysql://root:hunter2@db/x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidLocation(_)));
    assert!(!err.to_string().contains("hunter2"));
}
