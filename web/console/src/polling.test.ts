import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startPolling, type Visibility } from "./polling";

class FakeDocument implements Visibility {
  hidden = false;
  private listeners: (() => void)[] = [];
  addEventListener(_: "visibilitychange", listener: () => void) {
    this.listeners.push(listener);
  }
  removeEventListener(_: "visibilitychange", listener: () => void) {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
  set(hidden: boolean) {
    this.hidden = hidden;
    this.listeners.forEach((l) => l());
  }
}

describe("polling", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("ticks every interval while visible, stops while hidden, ticks at once when shown", () => {
    const doc = new FakeDocument();
    const tick = vi.fn();
    const stop = startPolling(tick, 3000, doc);
    vi.advanceTimersByTime(9000);
    expect(tick).toHaveBeenCalledTimes(3);
    doc.set(true);
    vi.advanceTimersByTime(30_000);
    expect(tick).toHaveBeenCalledTimes(3);
    doc.set(false);
    expect(tick).toHaveBeenCalledTimes(4);
    vi.advanceTimersByTime(3000);
    expect(tick).toHaveBeenCalledTimes(5);
    stop();
    vi.advanceTimersByTime(30_000);
    expect(tick).toHaveBeenCalledTimes(5);
  });

  it("does not start in a hidden tab", () => {
    const doc = new FakeDocument();
    doc.hidden = true;
    const tick = vi.fn();
    startPolling(tick, 3000, doc);
    vi.advanceTimersByTime(30_000);
    expect(tick).not.toHaveBeenCalled();
  });
});
