// Tiny DOM helpers: text goes in as textContent (never HTML).

type Child = Node | string;

export function element(
  tag: string,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function status(root: HTMLElement, message: string, error = false): void {
  let line = root.querySelector<HTMLElement>("#status");
  if (!line) {
    line = element("p", { id: "status", role: "status" });
    root.prepend(line);
  }
  line.textContent = message;
  line.classList.toggle("error", error);
  line.hidden = message === "";
}
