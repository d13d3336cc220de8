// The sign-in form: the admin token (local stack) or AWS credentials (SigV4), asked
// once per tab. Which one is offered first follows from where the page runs (see
// auth.ts, likelyAuth); the other is one click away.
import type { AuthKind, Credentials } from "./auth";
import { element } from "./dom";

const OTHER: Record<AuthKind, { kind: AuthKind; label: string }> = {
  bearer: { kind: "sigv4", label: "AWS の認証情報（SigV4）で入る" },
  sigv4: { kind: "bearer", label: "管理トークン（ローカル環境）で入る" },
};

export function askForCredentials(
  root: HTMLElement,
  kind: AuthKind,
  region: string,
  problem: string | null,
): Promise<Credentials> {
  return new Promise((resolve) => {
    const show = (current: AuthKind): void => {
      const form = element("form", { id: "signin", class: "signin", "data-kind": current });
      form.append(element("h2", {}, "管理 API にサインイン"));
      if (problem) form.append(element("p", { class: "problem", role: "alert" }, problem));
      const field = (label: string, name: string, type = "text", value = ""): HTMLInputElement => {
        const input = element("input", { name, id: `signin-${name}`, type, autocomplete: "off" });
        input.value = value;
        form.append(element("label", { for: `signin-${name}` }, label), input);
        return input;
      };
      let read: () => Credentials;
      if (current === "bearer") {
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
            "AWS の認証情報（この API の execute-api:Invoke を許された IAM）を入力してください。" +
              "`aws configure export-credentials` の値が使えます。このタブを閉じると消えます。",
          ),
        );
        const accessKeyId = field("アクセスキー ID", "access-key-id");
        const secret = field("シークレットアクセスキー", "secret-access-key", "password");
        const session = field("セッショントークン（一時的な認証情報のとき）", "session-token", "password");
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
      const other = element("button", { type: "button", class: "link", id: "signin-switch" }, OTHER[current].label);
      other.addEventListener("click", () => show(OTHER[current].kind));
      form.append(other);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        form.remove();
        resolve(read());
      });
      root.replaceChildren(form);
    };
    show(kind);
  });
}
