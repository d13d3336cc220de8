"""Run every benchmark and print its figures (ratios against in-run baselines)."""

from __future__ import annotations

import sys

from benchmarks import aws_calls_per_event, cold_import


def main() -> int:
    failures = 0
    print("== cold import of each handler module, vs `import linebot.v3.messaging`")
    for figure in cold_import.measure():
        budget = f"(budget <= {figure.budget:.2f}x)" if figure.budget else ""
        verdict = "" if figure.within_budget else "  OVER BUDGET"
        print(
            f"  {figure.name:<11} {figure.ratio:5.2f}x  [{figure.seconds * 1000:6.0f} ms]"
            f" {budget}{verdict}"
        )
        failures += 0 if figure.within_budget else 1

    print("\n== AWS calls to apply one webhook event (warm container)")
    for name, calls in aws_calls_per_event.measure().items():
        dynamodb = sum(n for op, n in calls.items() if op.startswith("dynamodb."))
        detail = ", ".join(f"{op} {n}" for op, n in calls.items())
        print(f"  {name:<17} DynamoDB {dynamodb}  ({detail})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
