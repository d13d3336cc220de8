// /console/config.json: written by the local gateway, or by the CDK deployment next to
// the built files on AWS. Nothing secret: where the API is and how staff sign in.

// Staff sign in through the managed login: the authorization code flow with PKCE at
// {domain}/oauth2/authorize and {domain}/oauth2/token, signing out at {domain}/logout.
// On AWS the domain is Cognito's (https://<prefix>.auth.<region>.amazoncognito.com);
// locally the gateway's stand-in ("/local"), where the admin token signs in as well.
export interface LocalAuth {
  mode: "local";
  domain: string;
  clientId: string;
}

export interface CognitoAuth {
  mode: "cognito";
  region: string;
  userPoolId: string;
  clientId: string;
  domain: string;
}

export type ManagedLoginAuth = LocalAuth | CognitoAuth;

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
