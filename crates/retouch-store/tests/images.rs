//! Image store behaviour on real backends: local disk in temp dirs and object_store's
//! in-memory store, plus S3 when `RETOUCH_TEST_S3_ENDPOINT` points at a loopback S3 server
//! (see README.md for the moto command).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "shared test helpers outside #[test] fns fail loudly by design"
)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use retouch_store::{
    DEFAULT_LINK_TTL, ImageExt, ImageKey, ImageStore, LinkError, LinkSigner, StoreError,
    StoreLocation,
};

const TTL: Duration = Duration::from_secs(3600);

fn png_bytes(tag: u8) -> Bytes {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(std::iter::repeat_n(tag, 4096));
    Bytes::from(v)
}

/// Splits `/images/{key}?expires={e}&signature={s}` into its three parts.
fn link_parts(path: &str) -> (String, String, String) {
    let rest = path
        .strip_prefix("/images/")
        .expect("link starts with /images/");
    let (key, query) = rest.split_once('?').expect("link has a query");
    let mut expires = None;
    let mut signature = None;
    for pair in query.split('&') {
        match pair.split_once('=').expect("k=v") {
            ("expires", v) => expires = Some(v.to_owned()),
            ("signature", v) => signature = Some(v.to_owned()),
            (k, _) => panic!("unexpected query key {k}"),
        }
    }
    (key.to_owned(), expires.unwrap(), signature.unwrap())
}

async fn local_store(dir: &Path) -> ImageStore {
    let signer = LinkSigner::load_or_create(&dir.join("link-secret")).unwrap();
    ImageStore::open(&StoreLocation::Local(dir.join("images")), signer, TTL)
        .await
        .unwrap()
}

async fn memory_store() -> ImageStore {
    let signer = LinkSigner::from_secret([42_u8; 32]).unwrap();
    ImageStore::open(&StoreLocation::Memory, signer, TTL)
        .await
        .unwrap()
}

async fn round_trip(store: &ImageStore) {
    for (i, ext) in [ImageExt::Png, ImageExt::Jpeg, ImageExt::Webp]
        .into_iter()
        .enumerate()
    {
        let body = png_bytes(u8::try_from(i).unwrap());
        let key = store.put(body.clone(), ext).await.unwrap();
        assert_eq!(key.ext(), ext);
        let got = store.get(&key).await.unwrap();
        assert_eq!(got.content_type, ext.content_type());
        assert_eq!(got.size, u64::try_from(body.len()).unwrap());
        assert_eq!(got.bytes().await.unwrap(), body);
    }
}

#[tokio::test]
async fn put_get_round_trip_on_disk_and_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&local_store(dir.path()).await).await;
    round_trip(&memory_store().await).await;
}

#[tokio::test]
async fn images_land_under_the_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path()).await;
    let key = store.put(png_bytes(1), ImageExt::Png).await.unwrap();
    let on_disk = dir
        .path()
        .join("images")
        .join(&key.id()[..2])
        .join(key.as_str());
    assert_eq!(std::fs::read(on_disk).unwrap(), png_bytes(1));
}

#[tokio::test]
async fn missing_images_are_not_found() {
    let store = memory_store().await;
    let key = ImageKey::generate(ImageExt::Png);
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::NotFound { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path()).await;
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_signed_path_verifies_and_serves_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path()).await;
    let key = store.put(png_bytes(9), ImageExt::Png).await.unwrap();
    let now = SystemTime::now();
    let path = store.signed_path(&key, now);
    let (k, e, s) = link_parts(&path);
    assert_eq!(k, key.as_str());
    assert_eq!(
        e.parse::<u64>().unwrap(),
        now.duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600
    );
    let granted = store.verify(&k, &e, &s, now).unwrap();
    assert_eq!(
        store.get(&granted).await.unwrap().bytes().await.unwrap(),
        png_bytes(9)
    );
}

#[tokio::test]
async fn tampered_links_are_refused() {
    let store = memory_store().await;
    let key = store.put(png_bytes(1), ImageExt::Png).await.unwrap();
    let other = store.put(png_bytes(2), ImageExt::Png).await.unwrap();
    let now = SystemTime::now();
    let (k, e, s) = link_parts(&store.signed_path(&key, now));
    let later: u64 = e.parse::<u64>().unwrap() + 86_400;
    let mut sig = s.clone().into_bytes();
    sig[63] = if sig[63] == b'a' { b'b' } else { b'a' };
    let sig = String::from_utf8(sig).unwrap();
    assert_eq!(
        store.verify(&k, &e, &sig, now),
        Err(LinkError::BadSignature)
    );
    assert_eq!(
        store.verify(other.as_str(), &e, &s, now),
        Err(LinkError::BadSignature)
    );
    assert_eq!(
        store.verify(&k, &later.to_string(), &s, now),
        Err(LinkError::BadSignature)
    );
    // A link from a store with another secret does not verify here.
    let foreign = ImageStore::open(
        &StoreLocation::Memory,
        LinkSigner::from_secret([1_u8; 32]).unwrap(),
        TTL,
    )
    .await
    .unwrap();
    let (fk, fe, fs) = link_parts(&foreign.signed_path(&key, now));
    assert_eq!(
        store.verify(&fk, &fe, &fs, now),
        Err(LinkError::BadSignature)
    );
}

#[tokio::test]
async fn expired_links_are_refused() {
    let store = memory_store().await;
    let key = store.put(png_bytes(1), ImageExt::Png).await.unwrap();
    let then = SystemTime::now();
    let (k, e, s) = link_parts(&store.signed_path(&key, then));
    assert!(
        store
            .verify(&k, &e, &s, then + TTL - Duration::from_secs(1))
            .is_ok()
    );
    assert_eq!(
        store.verify(&k, &e, &s, then + TTL),
        Err(LinkError::Expired)
    );
    assert_eq!(
        store.verify(&k, &e, &s, then + 2 * TTL),
        Err(LinkError::Expired)
    );
    assert_eq!(LinkError::Expired.http_status(), 403);
}

#[tokio::test]
async fn traversal_attempts_are_malformed_and_touch_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A file right next to the store that a traversal would aim at.
    std::fs::write(root.path().join("secret.png"), b"outside").unwrap();
    std::fs::write(data.join("secret.png"), b"outside").unwrap();
    let store = local_store(&data).await;
    let key = store.put(png_bytes(3), ImageExt::Png).await.unwrap();
    let now = SystemTime::now();
    let (_, e, _) = link_parts(&store.signed_path(&key, now));
    let id = key.id().to_owned();
    let attempts = [
        "../secret.png".to_owned(),
        "../../secret.png".to_owned(),
        format!("../{id}.png"),
        format!("..%2f{id}.png"),
        "..%2F..%2Fsecret.png".to_owned(),
        "%2e%2e/secret.png".to_owned(),
        "%2e%2e%2fsecret.png".to_owned(),
        format!("{}/../secret.png", key.as_str()),
        format!("/{id}.png"),
        root.path().join("secret.png").display().to_string(),
        "/etc/passwd".to_owned(),
        "..\\secret.png".to_owned(),
        format!("{id}\\..\\.png"),
        "\u{2025}/secret.png".to_owned(),
        "\u{ff0e}\u{ff0e}/secret.png".to_owned(),
        format!("{id}.png\0.txt"),
        format!("{id}\0.png"),
        format!("{}.png", "a".repeat(10_000)),
        "a".repeat(1 << 20),
        String::new(),
        ".".to_owned(),
        "..".to_owned(),
        "secret.png".to_owned(),
    ];
    for attempt in &attempts {
        // Even with a signature computed for that exact string by someone holding the secret,
        // a non-key never gets through: the shape check runs first.
        let forged_sig = "0".repeat(64);
        assert_eq!(
            store.verify(attempt, &e, &forged_sig, now),
            Err(LinkError::Malformed),
            "{attempt:?}"
        );
        assert!(attempt.parse::<ImageKey>().is_err(), "{attempt:?}");
    }
    assert_eq!(
        std::fs::read(root.path().join("secret.png")).unwrap(),
        b"outside"
    );
    assert_eq!(std::fs::read(data.join("secret.png")).unwrap(), b"outside");
    // The swept store never deletes files that are not image keys, even far in the future.
    let far = SystemTime::now() + Duration::from_secs(10 * 365 * 86_400);
    assert_eq!(store.sweep(far).await.unwrap(), 1);
    assert_eq!(std::fs::read(data.join("secret.png")).unwrap(), b"outside");
    assert!(data.join("link-secret").exists());
}

#[tokio::test]
async fn links_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let (k, e, s) = {
        let store = local_store(dir.path()).await;
        let key = store.put(png_bytes(5), ImageExt::Webp).await.unwrap();
        link_parts(&store.signed_path(&key, now))
    };
    let restarted = local_store(dir.path()).await;
    let key = restarted
        .verify(&k, &e, &s, now + Duration::from_secs(60))
        .unwrap();
    let got = restarted.get(&key).await.unwrap();
    assert_eq!(got.content_type, "image/webp");
    assert_eq!(got.bytes().await.unwrap(), png_bytes(5));
}

#[tokio::test]
async fn a_shared_secret_makes_replicas_agree() {
    let secret = "replica-shared-secret-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let loc = StoreLocation::Local(dir.path().to_owned());
    let a = ImageStore::open(&loc, LinkSigner::from_secret(secret).unwrap(), TTL)
        .await
        .unwrap();
    let b = ImageStore::open(&loc, LinkSigner::from_secret(secret).unwrap(), TTL)
        .await
        .unwrap();
    let key = a.put(png_bytes(6), ImageExt::Png).await.unwrap();
    let now = SystemTime::now();
    let (k, e, s) = link_parts(&a.signed_path(&key, now));
    let granted = b.verify(&k, &e, &s, now).unwrap();
    assert_eq!(
        b.get(&granted).await.unwrap().bytes().await.unwrap(),
        png_bytes(6)
    );
}

async fn sweep_keeps_fresh_and_deletes_expired(store: ImageStore) {
    let store = store.with_sweep_grace(Duration::from_secs(60));
    let a = store.put(png_bytes(1), ImageExt::Png).await.unwrap();
    let b = store.put(png_bytes(2), ImageExt::Jpeg).await.unwrap();
    let now = SystemTime::now();
    assert_eq!(store.sweep(now).await.unwrap(), 0);
    // Just inside ttl + grace: still kept (a link minted at put time may still be valid).
    assert_eq!(store.sweep(now + TTL).await.unwrap(), 0);
    assert!(store.get(&a).await.is_ok());
    // Past ttl + grace: gone.
    let late = now + TTL + Duration::from_secs(61);
    assert_eq!(store.sweep(late).await.unwrap(), 2);
    assert!(matches!(
        store.get(&a).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get(&b).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.sweep(late).await.unwrap(), 0);
}

#[tokio::test]
async fn sweep_deletes_expired_and_keeps_fresh() {
    let dir = tempfile::tempdir().unwrap();
    sweep_keeps_fresh_and_deletes_expired(local_store(dir.path()).await).await;
    sweep_keeps_fresh_and_deletes_expired(memory_store().await).await;
}

#[tokio::test]
async fn sweep_only_deletes_old_objects() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path())
        .await
        .with_sweep_grace(Duration::ZERO);
    let old = store.put(png_bytes(1), ImageExt::Png).await.unwrap();
    // Age the first image on disk by two hours; the second stays fresh.
    let old_path = dir
        .path()
        .join("images")
        .join(&old.id()[..2])
        .join(old.as_str());
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old_path)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    let fresh = store.put(png_bytes(2), ImageExt::Png).await.unwrap();
    assert_eq!(store.sweep(SystemTime::now()).await.unwrap(), 1);
    assert!(!old_path.exists());
    assert!(store.get(&fresh).await.is_ok());
}

#[cfg(unix)]
#[test]
fn the_secret_file_is_private_and_stable() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("link-secret");
    let a = LinkSigner::load_or_create(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let text = std::fs::read_to_string(&path).unwrap();
    let secret = text.trim();
    assert_eq!(secret.len(), 64);
    assert!(!format!("{a:?}").contains(secret));
    // Only the secret file is left behind (no temp files).
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["link-secret"]);
    // Re-reading it, or passing its text as RETOUCH_LINK_SECRET would, gives the same signer.
    let key = ImageKey::generate(ImageExt::Png);
    let b = LinkSigner::load_or_create(&path).unwrap();
    let c = LinkSigner::from_secret(secret).unwrap();
    assert_eq!(a.sign(&key, 99), b.sign(&key, 99));
    assert_eq!(a.sign(&key, 99), c.sign(&key, 99));
    let store_debug = format!("{a:#?}");
    assert!(!store_debug.contains(secret));
}

#[test]
fn a_short_secret_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("link-secret");
    std::fs::write(&path, "too short\n").unwrap();
    let err = LinkSigner::load_or_create(&path).unwrap_err();
    assert!(matches!(err, StoreError::Secret(_)));
    assert!(!err.to_string().contains("too short"));
}

#[tokio::test]
async fn store_debug_never_shows_the_secret() {
    let secret = "debug-probe-secret-0123456789abcdefghij";
    let store = ImageStore::open(
        &StoreLocation::Memory,
        LinkSigner::from_secret(secret).unwrap(),
        DEFAULT_LINK_TTL,
    )
    .await
    .unwrap();
    let shown = format!("{store:?} {store:#?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("memory:"));
}

/// S3 against a real S3-compatible server on loopback. Runs when `RETOUCH_TEST_S3_ENDPOINT`
/// is set, e.g. with moto (see README.md):
///
/// ```sh
/// python3 -m venv /tmp/moto && /tmp/moto/bin/pip install 'moto[server]'
/// /tmp/moto/bin/moto_server -H 127.0.0.1 -p 9199 &
/// RETOUCH_TEST_S3_ENDPOINT=http://127.0.0.1:9199 cargo test -p retouch-store --test images s3
/// ```
///
/// The test creates its own uniquely named bucket and uses dummy credentials.
#[tokio::test]
async fn s3_round_trip_links_and_sweep() {
    let Ok(endpoint) = std::env::var("RETOUCH_TEST_S3_ENDPOINT") else {
        eprintln!("skipping: RETOUCH_TEST_S3_ENDPOINT not set");
        return;
    };
    let bucket = format!(
        "retouch-test-{}",
        &ImageKey::generate(ImageExt::Png).id()[..12]
    );
    // Create the bucket with a plain PUT (moto does not check signatures).
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );
    // Endpoint, region and plain HTTP come from the location; credentials from the env.
    let mut location: StoreLocation = format!("s3://{bucket}/results/images").parse().unwrap();
    if let StoreLocation::S3 {
        endpoint: ep,
        region,
        allow_http,
        ..
    } = &mut location
    {
        *ep = Some(endpoint.clone());
        *region = Some("us-east-1".to_owned());
        *allow_http = true;
    }
    assert!(
        std::env::var("AWS_ACCESS_KEY_ID").is_ok(),
        "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (any value works with moto)"
    );
    let signer = LinkSigner::from_secret([3_u8; 32]).unwrap();
    let store = ImageStore::open(&location, signer, TTL).await.unwrap();
    round_trip(&store).await;
    let key = store.put(png_bytes(7), ImageExt::Png).await.unwrap();
    let now = SystemTime::now();
    let (k, e, s) = link_parts(&store.signed_path(&key, now));
    let granted = store.verify(&k, &e, &s, now).unwrap();
    assert_eq!(
        store.get(&granted).await.unwrap().bytes().await.unwrap(),
        png_bytes(7)
    );
    let missing = ImageKey::generate(ImageExt::Png);
    assert!(matches!(
        store.get(&missing).await,
        Err(StoreError::NotFound { .. })
    ));
    let store = store.with_sweep_grace(Duration::ZERO);
    assert_eq!(store.sweep(SystemTime::now()).await.unwrap(), 0);
    let far = SystemTime::now() + TTL + Duration::from_secs(60);
    assert_eq!(store.sweep(far).await.unwrap(), 4);
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::NotFound { .. })
    ));
}
