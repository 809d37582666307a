//! The `retouch` binary as a user runs it: `retouch edit` on files in a temp directory.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::Path;
use std::process::Command;

use image::GenericImageView as _;

fn retouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retouch"))
}

/// A textured image whose centre square is transparent (the part to fill).
fn write_input(path: &Path, hole: bool) -> image::RgbaImage {
    let image = image::RgbaImage::from_fn(64, 48, |x, y| {
        let in_hole = hole && (24..40).contains(&x) && (16..32).contains(&y);
        let v = if (x / 4 + y / 4) % 2 == 0 { 200 } else { 50 };
        image::Rgba([
            v,
            (x * 4) as u8,
            (y * 5) as u8,
            if in_hole { 0 } else { 255 },
        ])
    });
    image.save(path).unwrap();
    image
}

#[test]
fn edit_fills_the_transparent_area_and_numbers_n_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("photo.png");
    let original = write_input(&input, true);
    let out = dir.path().join("out.png");
    let status = retouch()
        .args([
            "edit",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-n",
            "3",
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let results: Vec<_> = (1..=3)
        .map(|k| {
            image::open(dir.path().join(format!("out-{k}.png")))
                .unwrap()
                .to_rgba8()
        })
        .collect();
    for result in &results {
        assert_eq!(result.dimensions(), original.dimensions());
        for (x, y, px) in original.enumerate_pixels() {
            if px[3] != 0 {
                assert_eq!(px, result.get_pixel(x, y));
            } else {
                assert_eq!(
                    result.get_pixel(x, y)[3],
                    255,
                    "hole pixel ({x},{y}) left unfilled"
                );
            }
        }
    }
    assert_ne!(
        results[0], results[1],
        "different seeds should give different fills"
    );
    // Piped (not a terminal): no progress bar, just the list of files written.
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("out-3.png"), "{stderr}");
}

#[test]
fn edit_reads_white_masks_and_resizes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("photo.png");
    write_input(&input, false);
    let mask = image::RgbaImage::from_fn(64, 48, |x, _| {
        if (30..34).contains(&x) {
            image::Rgba([255, 255, 255, 255])
        } else {
            image::Rgba([0, 0, 0, 255])
        }
    });
    let mask_path = dir.path().join("mask.png");
    mask.save(&mask_path).unwrap();
    let out = dir.path().join("out.jpg");
    let status = retouch()
        .args([
            "edit",
            input.to_str().unwrap(),
            "--mask",
            mask_path.to_str().unwrap(),
            "--mask-white",
        ])
        .args(["--size", "128x96", "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        &bytes[..3],
        &[0xFF, 0xD8, 0xFF],
        "output format follows the extension"
    );
    assert_eq!(
        image::load_from_memory(&bytes).unwrap().dimensions(),
        (128, 96)
    );
}

#[test]
fn edit_explains_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("notes.png");
    std::fs::write(&bogus, b"not an image").unwrap();
    let status = retouch()
        .args(["edit", bogus.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!status.status.success());
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.contains("notes.png") && stderr.contains("PNG, JPEG or WebP"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_public_address_without_auth() {
    let dir = tempfile::tempdir().unwrap();
    let status = retouch()
        .args([
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!status.status.success());
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("--insecure-no-auth"), "{stderr}");
}

#[test]
fn models_lists_the_local_engine_and_configured_aliases() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("retouch.toml");
    std::fs::write(
        &config,
        "[providers.upstream]\nkind = \"stability-ai\"\nbase_url = \"http://127.0.0.1:9\"\n\n\
         [models]\n\"sd-inpaint\" = { provider = \"upstream\" }\n\"gpt\" = { provider = \"openai\" }\n",
    )
    .unwrap();
    let mut child = retouch()
        .args([
            "serve",
            "--port",
            "0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .args(["--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET /v1/models HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let ids: Vec<&str> = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["retouch-fill", "gpt", "sd-inpaint"]);
    let sd = &json["data"][2]["retouch"];
    assert_eq!(sd["provider"], "upstream");
    assert_eq!(sd["stream"], false, "Stability does not stream");
    assert_eq!(json["data"][1]["retouch"]["stream"], true);
}
