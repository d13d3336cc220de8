// What every page gets: the API client, the channel, its time zone and the session.
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { ApiError, type Api, type ClientHooks } from "./api/client";
import type { ConsoleConfig } from "./config";
import type { Session } from "./session";

export interface ConsoleContextValue {
  config: ConsoleConfig;
  api: Api;
  hooks: ClientHooks;
  session: Session;
  channelId: string;
  timeZone: string;
}

export const ConsoleContext = createContext<ConsoleContextValue | null>(null);

export function useConsole(): ConsoleContextValue {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error("useConsole outside the signed-in console");
  return value;
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  reload: () => void;
}

// Load once per change of `deps`; reload() loads again.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [round, setRound] = useState(0);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: Error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  return { ...state, reload };
}
