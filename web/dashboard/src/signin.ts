// The sign-in form: the admin token (local stack) or AWS credentials (SigV4), asked
// once per tab.
import type { AuthKind, Credentials } from "./auth";
import { element } from "./dom";

export function askForCredentials(
  root: HTMLElement,
  kind: AuthKind,
  region: string,
  problem: string | null,
): Promise<Credentials> {
  return new Promise((resolve) => {
    const form = element("form", { id: "signin", class: "signin" });
    form.append(element("h2", {}, "管理 API にサインイン"));
    if (problem) form.append(element("p", { class: "problem", role: "alert" }, problem));
    const field = (label: string, name: string, type = "text", value = ""): HTMLInputElement => {
      const input = element("input", { name, id: `signin-${name}`, type, autocomplete: "off" });
      input.value = value;
      form.append(element("label", { for: `signin-${name}` }, label), input);
      return input;
    };
    let read: () => Credentials;
    if (kind === "bearer") {
      form.append(
        element("p", {}, "ローカル環境の管理トークンを入力してください（make dev が表示します）。"),
      );
      const token = field("管理トークン", "token", "password");
      read = () => ({ kind: "bearer", token: token.value.trim() });
    } else {
      form.append(
        element(
          "p",
          {},
          "AWS の認証情報（execute-api:Invoke を持つ IAM）を入力してください。" +
            "`aws configure export-credentials` の値が使えます。このタブの間だけ保存されます。",
        ),
      );
      const accessKeyId = field("アクセスキー ID", "access-key-id");
      const secret = field("シークレットアクセスキー", "secret-access-key", "password");
      const session = field("セッショントークン（任意）", "session-token", "password");
      const regionInput = field("リージョン", "region", "text", region);
      read = () => ({
        kind: "sigv4",
        accessKeyId: accessKeyId.value.trim(),
        secretAccessKey: secret.value.trim(),
        sessionToken: session.value.trim() || undefined,
        region: regionInput.value.trim(),
      });
    }
    form.append(element("button", { type: "submit" }, "表示する"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      form.remove();
      resolve(read());
    });
    root.replaceChildren(form);
  });
}
