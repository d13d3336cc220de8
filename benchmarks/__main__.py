"""Run every benchmark and print its figures (ratios against in-run baselines)."""

from __future__ import annotations

import sys

from benchmarks import (
    aws_calls_per_event,
    cold_import,
    hot_keys,
    layer_bytecode,
    scenario_enrolment,
    send_rate,
)


def main() -> int:
    failures = 0
    print("== cold import of each handler module, vs `import linebot.v3.messaging`")
    for figure in cold_import.measure():
        budget = f"(budget <= {figure.budget:.2f}x)" if figure.budget else ""
        verdict = "" if figure.within_budget else "  OVER BUDGET"
        print(
            f"  {figure.name:<11} {figure.ratio:5.2f}x  [{figure.seconds * 1000:6.0f} ms CPU]"
            f" {budget}{verdict}"
        )
        failures += 0 if figure.within_budget else 1

    print("\n== AWS calls to apply one webhook event (warm container)")
    for name, calls in aws_calls_per_event.measure().items():
        dynamodb = sum(n for op, n in calls.items() if op.startswith("dynamodb."))
        detail = ", ".join(f"{op} {n}" for op, n in calls.items())
        print(f"  {name:<17} DynamoDB {dynamodb}  ({detail})")

    report = send_rate.measure()
    print(
        f"\n== sustained send rate through the local stack, vs the channel's rate"
        f" ({send_rate.LIMIT_PER_SECOND:.0f} req/s per endpoint, LINE's limit"
        f" {send_rate.LINE_LIMIT_PER_SECOND:.1f}/s;"
        f" the slow-LINE run answers each push after {send_rate.SLOW_LINE_SECONDS} s)"
    )
    for rate in report.rates:
        verdict = "" if rate.within_budget else "  OVER BUDGET"
        print(
            f"  {rate.endpoint:<20} {rate.ratio:5.2f}x  (overall {rate.overall_ratio:.2f}x,"
            f" {rate.calls} calls)  429s {rate.rate_limited}"
            f"  inboxes {'exact' if rate.inboxes_exact else 'WRONG'}"
            f"  (budget >= {send_rate.TARGET_RATIO:.2f}x, 0 x 429){verdict}"
        )
        failures += 0 if rate.within_budget else 1
    capacity = report.capacity
    print(
        f"  unpaced capacity {capacity.ratio:5.2f}x the emulator alone"
        f"  ({capacity.stack_per_second:.0f} pushes/s through queue, sender and ledger;"
        f" {capacity.emulator_per_second:.0f}/s from 20 threads straight to the emulator)"
    )
    fan_out = report.multicast_set
    verdict = "" if fan_out.calls <= fan_out.budget else "  OVER BUDGET"
    print(
        f"  multicast calls per recipient {fan_out.per_recipient:.4f}"
        f"  ({fan_out.calls} calls for {fan_out.recipients} recipients;"
        f" budget ceil(N/500) = {fan_out.budget}){verdict}"
    )
    failures += 0 if fan_out.calls <= fan_out.budget else 1
    failures += layer_bytecode.report()
    failures += _print_hot_keys(hot_keys.measure())
    failures += _print_scenario_enrolment(scenario_enrolment.measure())
    return 1 if failures else 0


def _print_scenario_enrolment(report: scenario_enrolment.EnrolmentReport) -> int:
    scenario, broadcast = report.scenario, report.broadcast
    goal = scenario_enrolment.MAX_LATENESS_SECONDS
    verdict = "" if report.within_budget else "  OVER BUDGET"
    print(
        f"\n== {report.friends:,} friends enrolled in a step scenario at once"
        f" (first step 'day 1 at 10:00'; baseline: a broadcast to as many){verdict}"
    )
    print(f"  enrolment (admin API job): {report.enrol_seconds:.0f} s, {report.enrolled}")
    print(
        f"  lateness vs due time: p50 {scenario.percentile(0.5):.1f} s,"
        f" p99 {scenario.percentile(0.99):.1f} s (goal <= {goal:.0f} s);"
        f" the broadcast from its start: p50 {broadcast.percentile(0.5):.1f} s,"
        f" p99 {broadcast.percentile(0.99):.1f} s; ratio of p99s {report.lateness_ratio:.2f}x"
    )
    print(
        f"  sent {len(scenario.seconds_late):,}, every inbox exactly one:"
        f" {'yes' if scenario.inboxes_exact else 'NO'}; LINE multicasts {scenario.line_calls}"
        f" + {scenario.line_retries} retries (budget ceil(N/500) = {report.calls_budget})"
    )
    detail = ", ".join(f"{op} {n}" for op, n in report.aws_calls.items())
    by_function = ", ".join(f"{name} {n}" for name, n in report.aws_calls_by_function.items())
    print(
        f"  AWS calls per delivered message {report.aws_calls_per_message:.2f}"
        f" (goal <= {scenario_enrolment.MAX_AWS_CALLS_PER_MESSAGE:.0f}; {by_function}): {detail}"
    )
    return 0 if report.within_budget else 1


def _print_hot_keys(report: hot_keys.HotKeyReport) -> int:
    failures = 0
    budget = f"(budget <= {hot_keys.MAX_SHARE:.0%} each)"
    for burst in report.bursts:
        print(f"\n== hot keys: largest share of one key value, {burst.name} {budget}")
        for share in burst.shares:
            verdict = "" if share.share <= hot_keys.MAX_SHARE else "  OVER BUDGET"
            print(
                f"  {share.target:<10} {share.share:6.1%}  ({share.hottest_writes:,} of"
                f" {share.writes:,} writes on {share.hottest_key}; {share.distinct_keys:,} keys)"
                f"{verdict}"
            )
        failures += 0 if burst.within_budget else 1
    verdict = "" if report.tag_list_within_budget else "  OVER BUDGET"
    detail = ", ".join(f"{t} {f.items}" for t, f in report.tag_list_reads.items())
    print(
        f"\n== reads: {report.tag_list_returned} friends with a tag held by {hot_keys.TAGGED}"
        f" of {report.friends:,}: {report.tag_list_items} items read ({detail})"
        f"  (budget <= {hot_keys.READ_BUDGET:.0f}x the {hot_keys.TAGGED}){verdict}"
    )
    print(
        f"  broadcast preview over {report.friends:,} friends: "
        f"{report.preview_capacity_per_friend:.4f} read capacity units per friend"
        f" ({report.preview_recipients:,} recipients)"
    )
    failures += 0 if report.tag_list_within_budget else 1
    return failures


if __name__ == "__main__":
    sys.exit(main())
