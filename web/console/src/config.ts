// /console/config.json: written by the local gateway, or by the CDK deployment next to
// the built files on AWS. Nothing secret: where the API is and how staff sign in.

export interface LocalAuth {
  mode: "local";
  loginPath: string;
}

export interface CognitoAuth {
  mode: "cognito";
  region: string;
  userPoolId: string;
  clientId: string;
}

export interface ConsoleConfig {
  // "" = the same origin (local); on AWS the admin API's URL.
  apiBaseUrl: string;
  channels: string[];
  auth: LocalAuth | CognitoAuth | { mode: "none" };
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const answer = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json: HTTP ${answer.status}`);
  const config = (await answer.json()) as ConsoleConfig;
  return { ...config, apiBaseUrl: config.apiBaseUrl.replace(/\/$/, "") };
}
