//! `retouch edit`: the fill engine on the command line, with OpenAI's mask rule.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use retouch_api::OutputFormat;
use retouch_api::image::{DecodeLimits, decode_rgba, edit_mask_from_alpha, encode, resize_rgba};
use retouch_fill::{FillOptions, Filler, ImageRef, MaskRef};

/// Options of `retouch edit`.
#[derive(Debug, Args)]
pub(crate) struct EditArgs {
    /// The image to edit (PNG, JPEG or WebP). Without --mask, its transparent pixels are filled.
    image: PathBuf,
    /// A mask the size of the image: its fully transparent pixels (alpha = 0) are filled.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Read the mask the other common way: white (bright) pixels are filled.
    #[arg(long, requires = "mask")]
    mask_white: bool,
    /// Output file. Default: IMAGE's name with "-filled". With -n > 1, OUT-1, OUT-2, … are
    /// written.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// How many different fills to write.
    #[arg(short, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    n: u32,
    /// Resize the result to WIDTHxHEIGHT.
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Seed of the first fill (fill k uses seed + k - 1); the same seed gives the same result.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output format. Default: from the output file's extension, else png.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Output quality for jpeg (0-100).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    quality: Option<u8>,
    /// Largest image accepted, in pixels.
    #[arg(long, default_value_t = retouch_fill::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Png,
    Jpeg,
    Webp,
}

impl Format {
    fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(Self::Png),
            "jpg" | "jpeg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }

    fn output(self) -> OutputFormat {
        match self {
            Self::Png => OutputFormat::Png,
            Self::Jpeg => OutputFormat::Jpeg,
            Self::Webp => OutputFormat::Webp,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{text}' is not WIDTHxHEIGHT (e.g. 1024x768)"))?;
    let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v > 0);
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!(
            "'{text}' is not WIDTHxHEIGHT with positive integers"
        )),
    }
}

pub(crate) fn run(args: EditArgs) -> anyhow::Result<()> {
    let limits = DecodeLimits::for_pixels(args.max_pixels);
    let image_bytes =
        std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let image = decode_rgba(&image_bytes, &limits)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.image.display()))?;
    let mask = match &args.mask {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let mask = decode_rgba(&bytes, &limits)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if (mask.width, mask.height) != (image.width, image.height) {
                bail!(
                    "the mask is {}x{} but the image is {}x{}; they must be the same size",
                    mask.width,
                    mask.height,
                    image.width,
                    image.height
                );
            }
            if args.mask_white {
                white_is_edit(&mask.rgba)
            } else {
                edit_mask_from_alpha(&mask.rgba)
            }
        }
        None => edit_mask_from_alpha(&image.rgba),
    };
    let edited = mask.iter().filter(|&&m| m != 0).count();
    if edited == 0 {
        eprintln!(
            "note: nothing to fill ({}); the image is written unchanged",
            if args.mask.is_some() {
                "the mask has no edit pixels"
            } else {
                "the image has no transparent pixels"
            }
        );
    }

    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Png);
    let outputs = output_paths(&args.image, args.output.as_deref(), args.n, format);

    let progress = ProgressBar::new(0);
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] level {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut filler = Filler::new();
    let source = ImageRef {
        width: image.width,
        height: image.height,
        pixels: &image.rgba,
    };
    let mask_ref = MaskRef {
        width: image.width,
        height: image.height,
        data: &mask,
    };
    for (k, path) in outputs.iter().enumerate() {
        progress.set_message(format!("fill {}/{}", k + 1, outputs.len()));
        progress.set_position(0);
        let options = FillOptions::new().seed(args.seed.wrapping_add(k as u64));
        let mut on_level = |p: &retouch_fill::Progress<'_>| {
            progress.set_length(u64::from(p.levels));
            progress.set_position(u64::from(p.level) + 1);
            ControlFlow::Continue(())
        };
        let filled = filler
            .fill(source, mask_ref, &options, &mut on_level)
            .context("filling")?;
        let (pixels, width, height) = match args.size {
            Some((w, h)) if (w, h) != (filled.width, filled.height) => {
                let resized = resize_rgba(&filled.pixels, filled.width, filled.height, w, h)
                    .map_err(|e| anyhow::anyhow!("resizing: {e}"))?;
                (resized, w, h)
            }
            Some(_) | None => (filled.pixels, filled.width, filled.height),
        };
        let bytes = encode(&pixels, width, height, format.output(), args.quality)
            .map_err(|e| anyhow::anyhow!("encoding: {e}"))?;
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        progress.println(format!("wrote {}", path.display()));
    }
    progress.finish_and_clear();
    if !progress.is_hidden() {
        return Ok(());
    }
    for path in &outputs {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// White (bright, non-transparent) mask pixels are edits.
fn white_is_edit(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .map(|px| {
            let luma =
                (u32::from(px[0]) * 299 + u32::from(px[1]) * 587 + u32::from(px[2]) * 114) / 1000;
            if px[3] > 0 && luma > 127 { 255 } else { 0 }
        })
        .collect()
}

fn output_paths(image: &Path, output: Option<&Path>, n: u32, format: Format) -> Vec<PathBuf> {
    let base = match output {
        Some(path) => path.to_path_buf(),
        None => {
            let stem = image
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("image");
            image.with_file_name(format!("{stem}-filled.{}", format.extension()))
        }
    };
    if n == 1 {
        return vec![base];
    }
    let stem = base
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("out")
        .to_owned();
    let ext = base
        .extension()
        .and_then(|s| s.to_str())
        .map_or_else(|| format.extension().to_owned(), str::to_owned);
    (1..=n)
        .map(|k| base.with_file_name(format!("{stem}-{k}.{ext}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{Format, output_paths, parse_size, white_is_edit};

    #[test]
    fn sizes_parse_and_reject_nonsense() {
        assert_eq!(parse_size("1024x768"), Ok((1024, 768)));
        assert_eq!(parse_size("64X32"), Ok((64, 32)));
        assert!(parse_size("0x10").is_err());
        assert!(parse_size("big").is_err());
    }

    #[test]
    fn n_outputs_are_numbered() {
        let paths = output_paths(
            Path::new("a/photo.jpg"),
            Some(Path::new("out.png")),
            3,
            Format::Png,
        );
        assert_eq!(
            paths,
            vec![
                PathBuf::from("out-1.png"),
                PathBuf::from("out-2.png"),
                PathBuf::from("out-3.png")
            ]
        );
        let single = output_paths(Path::new("a/photo.jpg"), None, 1, Format::Webp);
        assert_eq!(single, vec![PathBuf::from("a/photo-filled.webp")]);
    }

    #[test]
    fn white_mask_convention() {
        let mask = white_is_edit(&[255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 0]);
        assert_eq!(mask, vec![255, 0, 0]);
    }
}
