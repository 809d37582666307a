"""Checks the figures the report derives: overhead over direct, memory per in-flight request,
and the correctness verdict that marks a gateway which altered or dropped the image."""

import unittest

import report


def phase(p50: float, *, ok: int = 10, requests: int = 10, sent: int = 12,
          image_ok: int = 12, mismatch: int = 0, missing: int = 0) -> dict:
    return {
        "latency": {"p50_ms": p50, "p90_ms": p50, "p99_ms": p50, "max_ms": p50, "mean_ms": p50},
        "ok": ok, "requests": requests, "sent": sent, "throughput_rps": 1.0,
        "payload_bytes": 4_000_000,
        "mock": {"image_ok": image_ok, "image_mismatch": mismatch, "image_missing": missing},
    }


class ReportTest(unittest.TestCase):
    def test_percentiles_are_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(report.percentile(values, 0.50), 50)
        self.assertEqual(report.percentile(values, 0.99), 99)
        self.assertEqual(report.percentile(values, 1.0), 100)
        self.assertEqual(report.percentile([7], 0.5), 7)
        self.assertEqual(report.percentile([], 0.5), 0)

    def test_rounds_merge_by_pooling_samples_and_summing_counts(self):
        def loadgen(lat_us: list[int], image_ok: int, failure: str | None = None) -> dict:
            return {
                "url": "u", "model": "m", "concurrency": 1, "payload_bytes": 9,
                "image_bytes": 5, "image_sha256": "s", "requests": len(lat_us), "warmup": 1,
                "ok": len(lat_us), "bad_body": 0, "transport_errors": 0,
                "sent": len(lat_us) + 1, "elapsed_s": 1.0, "statuses": {"200": len(lat_us)},
                "first_failure": failure, "latencies_us": lat_us,
                "mock": {"requests": image_ok, "image_ok": image_ok, "image_mismatch": 0,
                         "image_missing": 0, "body_bytes": 0},
            }

        # Round one is fast, round two slow: the pooled p50 sits between them.
        merged = report.merge_rounds([loadgen([1000, 2000], 3), loadgen([9000, 10000], 3, "x")])
        self.assertEqual(merged["requests"], 4)
        self.assertEqual(merged["sent"], 6)
        self.assertEqual(merged["mock"]["image_ok"], 6)
        self.assertEqual(merged["statuses"], {"200": 4})
        self.assertEqual(merged["first_failure"], "x")
        self.assertEqual(merged["latency"]["p50_ms"], 2.0)
        self.assertEqual(merged["latency"]["max_ms"], 10.0)
        self.assertAlmostEqual(merged["throughput_rps"], 2.0)
        self.assertTrue(report.phase_correct(merged))

    def test_overhead_is_gateway_p50_minus_direct_p50(self):
        direct = {"c1": phase(10.0)}
        gateway = {"c1": phase(12.5)}
        self.assertAlmostEqual(report.overhead_ms(gateway, direct, "c1"), 2.5)
        self.assertIsNone(report.overhead_ms(gateway, direct, "c8"))

    def test_memory_ratio_is_growth_per_request_in_payloads(self):
        # 16 requests of 4 MiB each, grown by 80 MiB: 1.25 payloads per request.
        four_mib = 4 * 1024 * 1024
        self.assertAlmostEqual(report.memory_ratio(100_000, 100_000 + 80 * 1024, 16, four_mib),
                               1.25)

    def test_a_changed_image_or_a_failed_request_is_marked(self):
        self.assertEqual(report.correctness({"c1": phase(1.0), "c8": phase(1.0)}), "yes")
        altered = report.correctness({"c1": phase(1.0, image_ok=10, mismatch=2)})
        self.assertIn("2 image(s) altered", altered)
        failed = report.correctness({"c1": phase(1.0, ok=7)})
        self.assertIn("3 request(s) not answered", failed)
        self.assertEqual(report.correctness({"error": "did not start"}), "failed")

    def test_the_doc_states_whether_targets_are_met(self):
        gateways = [
            {"name": "direct", "version": "-", "how": "", "c1": phase(10.0), "c8": phase(20.0)},
            {"name": "retouch", "version": "abc", "how": "", "c1": phase(12.0),
             "c8": phase(25.0),
             "memory": {**phase(3000.0, requests=16, sent=18, image_ok=18),
                        "memory": {"idle_rss_kib": 10_000, "peak_rss_kib": 10_000 + 62_500,
                                   "samples": 100, "processes": 1}}},
        ]
        results = {
            "mode": "full", "started_utc": "now", "duration_s": 1.0,
            "plan": {"warmup": 1, "c1_requests": 10, "c8_requests": 10, "inflight": 16,
                     "hold_ms": 1000},
            "machine": {"cpu": "x", "cores": 2, "memory_gib": 1, "kernel": "k",
                        "load_average_at_start": [0, 0, 0]},
            "image": {"bytes": 4_000_000, "sha256": "0" * 64},
            "gateways": gateways,
        }
        doc = report.render(results, None)
        # 2 ms over direct at c=1 (met); 62,500 KiB over 16 x 4,000,000 B = 1.00x (met).
        self.assertIn("| p50 overhead ≤ 3 ms (concurrency 1) | +2.00 ms | yes |", doc)
        self.assertIn("| 1.00× | yes |", doc)


if __name__ == "__main__":
    unittest.main()
