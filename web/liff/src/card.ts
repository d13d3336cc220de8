// The member card: member number as a barcode and a QR code, rank, points, link state,
// and 「ショップにログイン」 (a signed single-use login URL from /liff/shop-login).

import JsBarcode from "jsbarcode";
import QRCode from "qrcode";

import { describe, memberCard, shopLogin, type MemberCard } from "./api";
import type { PageConfig } from "./config";
import { element, status } from "./dom";

export async function renderCard(root: HTMLElement, config: PageConfig, idToken: string): Promise<void> {
  status(root, "会員証を読み込んでいます…");
  let card: MemberCard;
  try {
    card = await memberCard(config.channelId, idToken);
  } catch (error) {
    status(root, describe(error), true);
    return;
  }
  status(root, "");
  const name = card.displayName ? `${card.displayName} 様` : "ようこそ";
  root.append(element("p", { class: "name", id: "display-name" }, name));
  if (!card.linked || !card.memberId) {
    root.append(
      element(
        "section",
        { class: "unlinked", id: "unlinked" },
        element("p", { class: "state" }, "会員連携がまだです"),
        element(
          "p",
          {},
          "トーク画面のメニュー「会員連携」から、ショップの会員情報と連携すると会員証が表示されます。",
        ),
      ),
    );
    return;
  }
  const barcode = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  barcode.id = "barcode";
  barcode.setAttribute("role", "img");
  barcode.setAttribute("aria-label", `会員番号 ${card.memberId} のバーコード`);
  JsBarcode(barcode, card.memberId, {
    format: "CODE128",
    displayValue: false,
    height: 72,
    margin: 8,
    background: "#ffffff",
  });
  const qr = element("canvas", { id: "qr", "aria-label": "会員番号のQRコード" });
  await QRCode.toCanvas(qr as HTMLCanvasElement, card.memberId, { width: 168, margin: 2 });
  const login = element("button", { id: "shop-login", type: "button" }, "ショップにログイン");
  const linkState = element("p", { class: "state linked", id: "link-state" }, "会員連携済み");
  root.append(
    linkState,
    element(
      "dl",
      { class: "figures" },
      element("div", {}, element("dt", {}, "ランク"), element("dd", { id: "rank" }, text(card.rank))),
      element("div", {}, element("dt", {}, "ポイント"), element("dd", { id: "points" }, points(card.points))),
    ),
    element("div", { class: "codes" }, barcode, qr),
    element("p", { class: "member-id" }, "会員番号 ", element("span", { id: "member-id" }, card.memberId)),
    login,
  );
  login.addEventListener("click", () => void goToShop(root, config, idToken, config.shopTarget, login));
}

export async function goToShop(
  root: HTMLElement,
  config: PageConfig,
  idToken: string,
  target: string,
  button?: HTMLElement,
): Promise<void> {
  button?.setAttribute("disabled", "");
  status(root, "ショップに移動しています…");
  try {
    const { url } = await shopLogin(config.channelId, idToken, target);
    location.assign(url);
  } catch (error) {
    status(root, describe(error), true);
    button?.removeAttribute("disabled");
  }
}

function text(value: string | number | null): string {
  return value === null || value === "" ? "―" : String(value);
}

function points(value: string | number | null): string {
  if (value === null || value === "") return "0 pt";
  const number = Number(value);
  return Number.isFinite(number) ? `${number.toLocaleString("ja-JP")} pt` : `${value} pt`;
}
