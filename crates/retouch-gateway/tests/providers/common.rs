//! Helpers shared by the provider tests: requests built through the real parser, targets
//! pointing at mock upstreams, and pixel checks for masks.

use std::time::Duration;

use retouch_api::{EditForm, EditRequest, FormPart, ModelRules, ValidatedEdit};
use retouch_gateway::{
    AzureApi, AzureSettings, Provider, ProviderImages, ProviderOutput, ProviderTarget, Secret,
    UpstreamClient, UpstreamConfig,
};
use retouch_test_support::fixtures::{openai_mask_png, photo_png};
use retouch_test_support::{MockKind, MockUpstream};
use url::Url;

/// Side of the square test image.
pub(crate) const SIDE: u32 = 8;
/// The edit rectangle of the test mask: x in 2..6, y in 2..5.
pub(crate) const RECT: (u32, u32, u32, u32) = (2, 2, 6, 5);

/// The mock kind that speaks a provider's wire.
pub(crate) fn mock_kind(provider: Provider) -> MockKind {
    match provider {
        Provider::OpenAi | Provider::OpenAiCompatible => MockKind::OpenAi,
        Provider::AzureOpenAi => MockKind::AzureOpenAi,
        Provider::StabilityAi => MockKind::Stability,
        Provider::A1111 => MockKind::A1111,
        Provider::Gemini => MockKind::Gemini,
        Provider::IoPaint => MockKind::IoPaint,
    }
}

/// A form with the test image, the test mask, a prompt, `n` and a pass-through model.
pub(crate) fn form(n: u32) -> EditForm {
    EditForm::new()
        .with(FormPart::file(
            "image",
            "photo.png",
            Some("image/png"),
            photo_png(SIDE, SIDE),
        ))
        .with(FormPart::file(
            "mask",
            "mask.png",
            Some("image/png"),
            openai_mask_png(SIDE, SIDE, RECT),
        ))
        .with(FormPart::text("prompt", "a red balloon"))
        .with(FormPart::text("model", "test-model"))
        .with(FormPart::text("n", n.to_string()))
}

/// Parses and validates a form the way the server does.
pub(crate) fn parse(form: EditForm) -> (EditRequest, ValidatedEdit) {
    let request = EditRequest::from_form(form).expect("test form parses");
    let edit = ModelRules::for_request(&request)
        .validate(&request)
        .expect("test form validates");
    (request, edit)
}

/// A client with the default policy (loopback allowed).
pub(crate) fn client() -> UpstreamClient {
    UpstreamClient::new(UpstreamConfig::default()).expect("client builds")
}

/// A target pointing at `mock` with its expected key.
pub(crate) fn target(provider: Provider, mock: &MockUpstream) -> ProviderTarget {
    let mut target = ProviderTarget::new(
        Some(Url::parse(&mock.base_url()).expect("mock URL")),
        mock.api_key().map(Secret::new),
    );
    target.timeout = Duration::from_secs(5);
    if provider == Provider::AzureOpenAi {
        target.azure = Some(AzureSettings {
            resource: None,
            api: AzureApi::Deployment {
                deployment: "gpt-image-1".to_owned(),
                api_version: "2025-04-01-preview".to_owned(),
            },
            entra_token: false,
        });
    }
    target
}

/// Starts the provider's mock and a target for it.
pub(crate) async fn setup(provider: Provider) -> (MockUpstream, ProviderTarget) {
    let mock = MockUpstream::start(mock_kind(provider)).await;
    let target = target(provider, &mock);
    (mock, target)
}

/// The finished images, or a panic naming what came instead.
pub(crate) fn images(output: ProviderOutput) -> ProviderImages {
    match output {
        ProviderOutput::Images(images) => images,
        ProviderOutput::Stream(stream) => panic!("expected images, got {stream:?}"),
    }
}

/// Asserts a white-is-edit grayscale mask marks exactly [`RECT`].
pub(crate) fn assert_white_is_edit(png: &[u8]) {
    let decoded = image::load_from_memory(png).expect("mask decodes");
    assert!(
        !decoded.color().has_alpha(),
        "a white-is-edit mask must not carry alpha (A1111 would read the alpha): {:?}",
        decoded.color()
    );
    let gray = decoded.to_luma8();
    assert_eq!(gray.dimensions(), (SIDE, SIDE));
    let (x0, y0, x1, y1) = RECT;
    for (x, y, pixel) in gray.enumerate_pixels() {
        let inside = (x0..x1).contains(&x) && (y0..y1).contains(&y);
        let expected = if inside { 255 } else { 0 };
        assert_eq!(pixel.0[0], expected, "mask pixel ({x},{y}) inside={inside}");
    }
}
