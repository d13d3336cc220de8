import { describe, expect, it } from "vitest";
import { jwtClaims, machineSession, roleFromGroups } from "./auth";
import { can, type Role, type Session } from "./session";

const as = (role: Role): Session => ({ token: "t", kind: "staff", role, email: "a@b", expiresAt: null });

describe("roles in the console", () => {
  it("follow the API's roles (the API decides; the console hides)", () => {
    expect(can(as("owner"), "staff")).toBe(true);
    expect(can(as("marketer"), "staff")).toBe(false);
    expect(can(as("marketer"), "write")).toBe(true);
    expect(can(as("operator"), "write")).toBe(false);
    expect(can(as("operator"), "reports")).toBe(false);
    expect(can(as("operator"), "chat")).toBe(true);
    expect(can(as("operator"), "tagFriends")).toBe(true);
    expect(can(as("viewer"), "reports")).toBe(true);
    expect(can(as("viewer"), "tagFriends")).toBe(false);
    expect(can(as("viewer"), "chatRead")).toBe(true);
    expect(can(as("viewer"), "chat")).toBe(false);
    expect(can(as("operator"), "chatRead")).toBe(true);
    expect(can(null, "reports")).toBe(false);
  });

  it("make the admin token a machine with the owner role", () => {
    expect(machineSession(" tok ")).toEqual({ token: "tok", kind: "machine", role: "owner", email: null, expiresAt: null });
  });

  it("read Cognito groups as a list or as API Gateway's string", () => {
    expect(roleFromGroups(["viewer", "marketer"])).toBe("marketer");
    expect(roleFromGroups("[operator viewer]")).toBe("operator");
    expect(roleFromGroups(undefined)).toBe("viewer");
  });

  it("decode a JWT's claims (base64url, UTF-8)", () => {
    const payload = Buffer.from(JSON.stringify({ email: "担当@example.com", "cognito:groups": ["owner"] }))
      .toString("base64url");
    expect(jwtClaims(`h.${payload}.s`)).toEqual({ email: "担当@example.com", "cognito:groups": ["owner"] });
  });
});
