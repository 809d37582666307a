//! The `local` provider: the embedded content-aware fill engine on a bounded worker pool.
//!
//! Decoding, filling, resizing and encoding are CPU work, so they all run on a dedicated rayon
//! pool, never on the async runtime. Admission is bounded: at most `workers + queue` edits are
//! running or waiting at once, and the next one is refused at once with a 429 carrying
//! `retry-after` rather than joining an unbounded backlog.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fast_image_resize as fr;
use rayon::prelude::*;
use retouch_api::image::{DecodeLimits, DecodedImage, decode_rgba, edit_mask_from_alpha, encode};
use retouch_api::rules::ModelRules;
use retouch_api::{ApiError, OutputFormat, ValidatedEdit};
use retouch_fill::{FillError, FillOptions, Filler, ImageRef, MaskRef, Progress};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc};

use crate::output::{EditCall, EditEvent, EncodedImage};

/// How the local engine is sized.
#[derive(Debug, Clone)]
pub struct LocalEngineConfig {
    /// Threads that run fills. Default: the number of CPU cores.
    pub workers: usize,
    /// Edits that may wait for a free worker before new ones are refused. Default: 16.
    pub queue: usize,
    /// Largest image accepted, in pixels (width × height). Default: 16 MiP
    /// ([`retouch_fill::DEFAULT_MAX_PIXELS`]).
    pub max_pixels: u64,
    /// The delay suggested to clients in `retry-after` when the queue is full. Default: 2 s.
    pub retry_after: Duration,
}

impl Default for LocalEngineConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 16,
            max_pixels: retouch_fill::DEFAULT_MAX_PIXELS,
            retry_after: Duration::from_secs(2),
        }
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the local engine's worker pool: {0}")]
pub struct EngineInitError(#[from] rayon::ThreadPoolBuildError);

/// The embedded fill engine behind a bounded pool. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    pool: Arc<rayon::ThreadPool>,
    admission: Arc<Semaphore>,
    config: Arc<LocalEngineConfig>,
}

/// Capacity of each edit's event channel. Partial images beyond it are dropped rather than
/// blocking a worker on a slow client; completed images always wait for room.
const EVENT_BUFFER: usize = 8;

impl LocalEngine {
    /// Starts the worker pool.
    pub fn new(config: LocalEngineConfig) -> Result<Self, EngineInitError> {
        let workers = config.workers.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("retouch-fill-{i}"))
            .build()?;
        let admission = Arc::new(Semaphore::new(workers + config.queue));
        Ok(Self {
            pool: Arc::new(pool),
            admission,
            config: Arc::new(config),
        })
    }

    /// The engine's sizing.
    pub fn config(&self) -> &LocalEngineConfig {
        &self.config
    }

    /// Edits that are running or queued right now.
    pub fn in_flight(&self) -> usize {
        (self.config.workers.max(1) + self.config.queue)
            .saturating_sub(self.admission.available_permits())
    }

    /// Queues an edit. Fails at once with 429 when the queue is full.
    pub(crate) fn submit(
        &self,
        call: EditCall,
    ) -> Result<mpsc::Receiver<Result<EditEvent, ApiError>>, ApiError> {
        let permit = match Arc::clone(&self.admission).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
                return Err(ApiError::rate_limited(
                    "The local engine is busy: too many edits are queued. Retry after a short wait.",
                    Some(self.config.retry_after),
                ));
            }
        };
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let max_pixels = self.config.max_pixels;
        let pool = Arc::clone(&self.pool);
        self.pool
            .spawn(move || run_job(&pool, call, max_pixels, &tx, permit));
        Ok(rx)
    }
}

type EventSender = mpsc::Sender<Result<EditEvent, ApiError>>;

/// Runs one edit on a pool thread; the permit is released when it returns.
fn run_job(
    pool: &rayon::ThreadPool,
    call: EditCall,
    max_pixels: u64,
    tx: &EventSender,
    _permit: OwnedSemaphorePermit,
) {
    if call.cancel.is_cancelled() || tx.is_closed() {
        return;
    }
    let started = std::time::Instant::now();
    let result = run_edit(pool, &call, max_pixels, tx);
    match result {
        Ok(()) => tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "local edit done"
        ),
        Err(error) => {
            // The receiver may be gone (client left); nothing else to tell then.
            let _ = tx.blocking_send(Err(error));
        }
    }
}

fn run_edit(
    pool: &rayon::ThreadPool,
    call: &EditCall,
    max_pixels: u64,
    tx: &EventSender,
) -> Result<(), ApiError> {
    let limits = DecodeLimits::for_pixels(max_pixels);
    let first = call.request.images.first().ok_or_else(|| {
        ApiError::invalid_request("Missing required parameter: 'image'.", Some("image"))
    })?;
    let rules = ModelRules::local(max_pixels);
    let image =
        decode_rgba(&first.data, &limits).map_err(|e| e.into_api(&first.field, 1, &rules))?;
    let edit_mask = match &call.request.mask {
        Some(mask_file) => {
            let mask =
                decode_rgba(&mask_file.data, &limits).map_err(|e| e.into_api("mask", 1, &rules))?;
            if (mask.width, mask.height) != (image.width, image.height) {
                return Err(ApiError::invalid_request(
                    format!(
                        "Invalid mask image - mask size {}x{} must match image size {}x{}.",
                        mask.width, mask.height, image.width, image.height
                    ),
                    Some("mask"),
                ));
            }
            edit_mask_from_alpha(&mask.rgba)
        }
        None => edit_mask_from_alpha(&image.rgba),
    };

    let edit = &call.edit;
    let base_seed = seed_for(call);
    let partial_plan = PartialPlan::new(edit.partial_images, edit.stream);
    let out_size = edit.size.unwrap_or((image.width, image.height));

    let results: Vec<Result<(), ApiError>> = pool.install(|| {
        (0..edit.n)
            .into_par_iter()
            .map(|index| {
                let options = FillOptions::new().seed(base_seed.wrapping_add(u64::from(index)));
                let mut filler = Filler::new();
                let mut partials_sent = 0u32;
                let mut on_level = |progress: &Progress<'_>| {
                    if call.cancel.is_cancelled() || tx.is_closed() {
                        return ControlFlow::Break(());
                    }
                    // Partials are best effort: a full buffer drops one rather than holding
                    // a worker.
                    if index == 0
                        && partial_plan.wants(progress.level, progress.levels)
                        && let Ok(partial) = render_partial(progress.image, out_size, edit)
                        && tx
                            .try_send(Ok(EditEvent::Partial {
                                partial_index: partials_sent,
                                image: partial,
                            }))
                            .is_ok()
                    {
                        partials_sent += 1;
                    }
                    ControlFlow::Continue(())
                };
                let filled = filler
                    .fill(
                        image_ref(&image),
                        mask_ref(&image, &edit_mask),
                        &options,
                        &mut on_level,
                    )
                    .map_err(fill_error)?;
                let encoded = render(filled.as_ref(), out_size, edit)?;
                tx.blocking_send(Ok(EditEvent::Completed {
                    index,
                    image: encoded,
                }))
                .map_err(|_| client_closed())
            })
            .collect()
    });
    results.into_iter().collect()
}

/// The seed for this edit: the caller's `seed` field when given (reproducible results), else
/// random, so repeated identical requests offer different fills as a generative API would.
fn seed_for(call: &EditCall) -> u64 {
    call.request
        .extra
        .iter()
        .find(|(name, _)| name == "seed")
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .unwrap_or_else(rand::random)
}

fn image_ref(image: &DecodedImage) -> ImageRef<'_> {
    ImageRef {
        width: image.width,
        height: image.height,
        pixels: &image.rgba,
    }
}

fn mask_ref<'a>(image: &DecodedImage, mask: &'a [u8]) -> MaskRef<'a> {
    MaskRef {
        width: image.width,
        height: image.height,
        data: mask,
    }
}

/// Renders a partial image: the level's estimate scaled up to the output size with a fast
/// bilinear filter (a preview does not need the final image's careful resampling, and this
/// runs between pyramid levels, holding up the fill).
fn render_partial(
    image: ImageRef<'_>,
    size: (u32, u32),
    edit: &ValidatedEdit,
) -> Result<EncodedImage, ApiError> {
    if (image.width, image.height) == size {
        return render(image, size, edit);
    }
    let preview =
        |e: &dyn std::fmt::Display| ApiError::internal(format!("scaling a partial image: {e}"));
    let src =
        fr::images::ImageRef::new(image.width, image.height, image.pixels, fr::PixelType::U8x4)
            .map_err(|e| preview(&e))?;
    let mut dst = fr::images::Image::new(size.0, size.1, fr::PixelType::U8x4);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| preview(&e))?;
    let pixels = dst.into_vec();
    render(
        ImageRef {
            width: size.0,
            height: size.1,
            pixels: &pixels,
        },
        size,
        edit,
    )
}

/// Scales (when the requested size differs) and encodes one image.
fn render(
    image: ImageRef<'_>,
    size: (u32, u32),
    edit: &ValidatedEdit,
) -> Result<EncodedImage, ApiError> {
    let resized;
    let (pixels, width, height) = if (image.width, image.height) == size {
        (image.pixels, image.width, image.height)
    } else {
        resized = retouch_api::image::resize_rgba(
            image.pixels,
            image.width,
            image.height,
            size.0,
            size.1,
        )
        .map_err(|e| ApiError::internal(format!("resizing the result: {e}")))?;
        (resized.as_slice(), size.0, size.1)
    };
    let has_transparency = edit.output_format != OutputFormat::Jpeg
        && pixels.chunks_exact(4).any(|px| px[3] != u8::MAX);
    let bytes = encode(
        pixels,
        width,
        height,
        edit.output_format,
        edit.output_compression,
    )
    .map_err(|e| ApiError::internal(format!("encoding the result: {e}")))?;
    Ok(EncodedImage {
        bytes: Bytes::from(bytes),
        format: edit.output_format,
        width,
        height,
        has_transparency,
    })
}

/// The client went away (or the server stopped waiting); nobody will read this answer.
fn client_closed() -> ApiError {
    ApiError::invalid_request(
        "The client closed the request before the edit finished.",
        None,
    )
    .with_status(499)
}

#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "FillError is non-exhaustive"
)]
fn fill_error(error: FillError) -> ApiError {
    match error {
        FillError::NothingToFillFrom => ApiError::invalid_request(
            "Invalid input image - every pixel is marked for editing, so there is nothing to fill \
             from. Leave part of the image opaque (or unmasked) and try again.",
            Some("mask"),
        ),
        FillError::TooLarge { pixels, limit } => ApiError::invalid_request(
            format!(
                "Invalid input image - image has {pixels} pixels; the maximum is {limit} pixels. \
                 Resize it and try again."
            ),
            Some("image"),
        ),
        FillError::Cancelled => client_closed(),
        other => ApiError::internal(format!("fill engine error: {other}")),
    }
}

/// Which pyramid levels produce a partial image: `partial_images` of them, spread evenly over
/// the levels before the last one (the last level is the final image itself).
#[derive(Debug, Clone, Copy)]
struct PartialPlan {
    count: u32,
}

impl PartialPlan {
    fn new(partial_images: u32, stream: bool) -> Self {
        Self {
            count: if stream { partial_images } else { 0 },
        }
    }

    fn wants(self, level: u32, levels: u32) -> bool {
        let candidates = levels.saturating_sub(1);
        if self.count == 0 || level >= candidates {
            return false;
        }
        if self.count >= candidates {
            return true;
        }
        // Evenly spaced picks among 0..candidates, ending at the last candidate.
        (1..=self.count).any(|j| (j * candidates).div_ceil(self.count) - 1 == level)
    }
}

#[cfg(test)]
mod tests {
    use super::PartialPlan;

    fn picks(count: u32, levels: u32) -> Vec<u32> {
        let plan = PartialPlan::new(count, true);
        (0..levels).filter(|&l| plan.wants(l, levels)).collect()
    }

    #[test]
    fn partial_plan_spreads_picks_and_never_takes_the_final_level() {
        assert_eq!(picks(0, 6), Vec::<u32>::new());
        assert_eq!(picks(1, 6), vec![4]);
        assert_eq!(picks(2, 6), vec![2, 4]);
        assert_eq!(picks(3, 7), vec![1, 3, 5]);
        assert_eq!(picks(3, 3), vec![0, 1]);
        assert_eq!(picks(3, 1), Vec::<u32>::new());
        assert!(PartialPlan::new(3, false).count == 0);
    }
}
