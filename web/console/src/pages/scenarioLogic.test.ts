import { describe, expect, it } from "vitest";
import {
  enrollBody,
  extraOf,
  freshStepId,
  newDefinition,
  newStep,
  normalise,
  planInstant,
  problemsAt,
  problemsOf,
  SCENARIO_KEYS,
  STEP_KEYS,
  timeline,
  timelineDays,
  timingForm,
  toTiming,
  unplaced,
  withExtra,
  withKey,
  withStep,
  type Definition,
  type Obj,
} from "./scenarioLogic";

// examples/scenarios.yaml's welcome series as GET …/scenarios/{id} returns it (the
// model's defaults filled in), plus a step with an experiment and actions and a key the
// console does not know.
function welcome(): Definition {
  return {
    id: "welcome-series",
    name: "友だち追加のステップ配信",
    message_class: "marketing",
    triggers: [{ type: "follow" }, { type: "event", name: "cart_updated", where: [{ property: "value", op: "gte", value: 3000 }] }],
    re_entry: "never",
    exit_when: [{ type: "event", name: "purchase", where: [] }, { type: "blocked" }],
    steps: [
      {
        id: "welcome",
        timing: { after: "0m" },
        messages: [
          {
            type: "template",
            altText: "気になるテーマを選んでください",
            template: { type: "buttons", text: "テーマは？", actions: [{ type: "postback", label: "スキンケア", data: "topic=skin" }] },
          },
        ],
        actions: [],
        branches: [
          { postback: "topic=skin", goto: "skin" },
          { tag: "ヘア", goto: "hair" },
        ],
        reminder: { after: "1d", goto: "nudge" },
      },
      { id: "nudge", timing: { after: "1d" }, messages: [{ type: "text", text: "まだですか？" }], actions: [], branches: [], next: "day3" },
      {
        id: "skin",
        timing: { after: "0m" },
        condition: { tag: "VIP" },
        messages: [{ type: "text", text: "スキンケア" }],
        actions: [{ type: "add_tags", tags: ["skin"] }],
        branches: [],
        next: "day3",
        experiment: { variants: [{ name: "A", percent: 50 }, { name: "B", percent: 50 }], holdout_percent: 0 },
      },
      { id: "hair", timing: { after: "0m" }, messages: [{ type: "text", text: "ヘア" }], actions: [], branches: [], next: "day3" },
      {
        id: "day3",
        timing: { day: 3, at: "10:00" },
        if_clicked: { step: "welcome", clicked: false },
        messages: [{ type: "text", text: "クーポン" }],
        actions: [],
        branches: [],
        next: "end",
        future_key: { kept: true },
      },
    ],
  };
}

describe("the definition round trip", () => {
  it("keeps every field when each input writes back what it shows", () => {
    const loaded = welcome();
    let edited: Definition = JSON.parse(JSON.stringify(loaded));
    // What the editor's inputs do with values they display unchanged.
    edited = withKey(edited, "name", edited.name);
    edited = withKey(edited, "message_class", edited.message_class);
    edited = withExtra(edited, SCENARIO_KEYS, extraOf(edited, SCENARIO_KEYS));
    (edited.steps as Obj[]).forEach((step, index) => {
      let next = withKey(step, "timing", toTiming(timingForm(step.timing)));
      next = withExtra(next, STEP_KEYS, JSON.parse(JSON.stringify(extraOf(next, STEP_KEYS))));
      edited = withStep(edited, index, next);
    });
    expect(edited).toEqual(loaded);
    // and in the same key order (the API's diff is of the JSON text)
    expect(JSON.stringify(edited)).toBe(JSON.stringify(loaded));
  });

  it("shows the keys the form has no input for in the advanced box, and writes them back", () => {
    const skin = (welcome().steps as Obj[])[2];
    expect(Object.keys(extraOf(skin, STEP_KEYS)).sort()).toEqual(["actions", "experiment"]);
    const changed = withExtra(skin, STEP_KEYS, { actions: [], note: "x" });
    expect(changed.experiment).toBeUndefined();
    expect(changed.note).toBe("x");
    expect(changed.condition).toEqual({ tag: "VIP" });
    expect(extraOf(welcome(), SCENARIO_KEYS)).toEqual({});
  });

  it("sets and removes one key, the others and their order kept", () => {
    const step = { id: "a", timing: { after: "1d" }, messages: [] };
    expect(Object.keys(withKey(step, "timing", { day: 1 }))).toEqual(["id", "timing", "messages"]);
    expect(withKey(step, "timing", undefined)).toEqual({ id: "a", messages: [] });
    expect(withKey(step, "next", "end")).toEqual({ ...step, next: "end" });
  });
});

describe("timing", () => {
  it("reads and writes each form", () => {
    const timings: Obj[] = [{ after: "0m" }, { after: "30m" }, { after: "2h" }, { after_enrollment: "3d" }, { day: 1 }, { day: 7, at: "09:30" }];
    for (const timing of timings) {
      expect(toTiming(timingForm(timing))).toEqual(timing);
    }
    expect(timingForm({ after: "90min" })).toMatchObject({ mode: "after", amount: 90, unit: "m" });
    expect(toTiming({ mode: "after", amount: 1, unit: "d", day: 0, at: "" })).toEqual({ after: "1d" });
    expect(toTiming({ mode: "day", amount: 0, unit: "d", day: 2, at: "" })).toEqual({ day: 2 });
  });
});

describe("the timeline", () => {
  it("lays the steps out by their delays, branches and reminder included", () => {
    const entries = timeline(welcome());
    const at = Object.fromEntries(entries.map((e) => [e.stepId, e]));
    expect(at.welcome).toMatchObject({ day: 0, minutes: 0, via: "start" });
    expect(at.skin).toMatchObject({ day: 0, via: "branch", from: "welcome", condition: true });
    expect(at.hair).toMatchObject({ day: 0, via: "branch", from: "welcome" });
    // The reminder's wait replaces the target's own timing; a step with a reminder does
    // not fall through.
    expect(at.nudge).toMatchObject({ day: 1, minutes: 1440, via: "reminder", from: "welcome" });
    expect(at.welcome.next).toBeNull();
    expect(at.welcome.branches).toEqual([
      { when: "postback topic=skin", goto: "skin" },
      { when: "tag ヘア", goto: "hair" },
    ]);
    expect(at.day3).toMatchObject({ day: 3, at: "10:00", ifClicked: { step: "welcome", clicked: false }, next: null });
    expect(timelineDays(entries).map((d) => d.day)).toEqual([0, 1, 3]);
  });

  it("adds the delays of a plain series and marks steps nothing reaches", () => {
    let definition = newDefinition("s", "S");
    definition = withKey(definition, "steps", [
      newStep("a", { after: "0m" }),
      newStep("b", { after: "1d" }),
      newStep("c", { after: "2d" }),
      { ...newStep("d", { after: "1h" }), next: "end" },
      newStep("orphan", { after: "1d" }),
    ]);
    const entries = timeline(withStep(definition, 2, { ...newStep("c", { after: "2d" }), next: "d" }));
    expect(entries.map((e) => [e.stepId, e.day])).toEqual([
      ["a", 0],
      ["b", 1],
      ["c", 3],
      ["d", 3],
      ["orphan", -1],
    ]);
    expect(freshStepId(definition)).toBe("step-6");
  });
});

describe("the API's reasons", () => {
  it("by field, next to the input", () => {
    const body = {
      message: "steps[1].timing: give exactly one of after, after_enrollment or day",
      field: "steps[1].timing",
      errors: [
        { field: "steps[1].timing", type: "invalid", message: "give exactly one of after, after_enrollment or day" },
        { field: "steps[0].messages[0].text", type: "invalid", message: "empty" },
        { field: "scenario", type: "invalid", message: "the scenario was changed meanwhile" },
      ],
    };
    const problems = problemsOf(body);
    expect(problemsAt(problems, "steps[1].timing", true)).toEqual(["give exactly one of after, after_enrollment or day"]);
    expect(problemsAt(problems, "steps[0].messages")).toEqual(["[0].text: empty"]);
    expect(problemsAt(problems, "steps[1]")).toEqual(["timing: give exactly one of after, after_enrollment or day"]);
    expect(unplaced(problems, ["steps[1].timing", "steps[0].messages"])).toEqual([{ field: "", message: "the scenario was changed meanwhile" }]);
    expect(problemsOf({ message: "no such tag", field: "steps.0.condition" })).toEqual([{ field: "steps[0].condition", message: "no such tag" }]);
    expect(normalise("steps.2.branches.0.goto")).toBe("steps[2].branches[0].goto");
  });
});

describe("enrolment", () => {
  it("a saved segment or a tag", () => {
    expect(enrollBody({ kind: "segment", segmentId: "seg_1" })).toEqual({ segment: { segment: "seg_1" } });
    expect(enrollBody({ kind: "tag", tag: "VIP" })).toEqual({ segment: { match: { tags_any: ["VIP"] } } });
  });
});

describe("a friend's plan", () => {
  it("reads the due time the API shows in the account's zone", () => {
    expect(planInstant("2026-12-05T07:05+09:00 (Asia/Tokyo)")).toBe("2026-12-05T07:05+09:00");
    expect(new Date(planInstant("2026-12-05T07:05+09:00 (Asia/Tokyo)")).toISOString()).toBe("2026-12-04T22:05:00.000Z");
    expect(planInstant("2026-12-05T07:05:00+09:00")).toBe("2026-12-05T07:05:00+09:00");
  });
});
