// The pages, in the sidebar's order, and who may open them (the API decides; a page a
// role cannot use is left out of its sidebar). A page is listed only once its routes
// are on main.
import type { ReactNode } from "react";
import type { MessageKey } from "../i18n";
import type { Ability } from "../session";
import { Broadcasts } from "./Broadcasts";
import { Chat } from "./Chat";
import { Dashboard } from "./Dashboard";
import { Deliveries } from "./Deliveries";
import { FriendDetail } from "./FriendDetail";
import { Friends } from "./Friends";
import { RichMenus } from "./RichMenus";
import { Routes } from "./Routes";
import { Rules } from "./Rules";
import { Scenarios } from "./Scenarios";
import { Segments } from "./Segments";
import { Settings } from "./Settings";
import { Tags } from "./Tags";
import { Audit } from "./Audit";
import { Staff } from "./Staff";
import { IdLink } from "./IdLink";

export interface PageEntry {
  id: string;
  route: string;
  label: MessageKey;
  needs: Ability;
  render: (params: Record<string, string>) => ReactNode;
  // A detail page reached from another: not in the sidebar.
  hidden?: boolean;
  // Which sidebar entry is lit while it is open.
  parent?: string;
}

export const PAGES: PageEntry[] = [
  { id: "dashboard", route: "/", label: "nav.dashboard", needs: "reports", render: () => <Dashboard /> },
  { id: "friends", route: "/friends", label: "nav.friends", needs: "friends", render: () => <Friends /> },
  {
    id: "friend",
    route: "/friends/:userId",
    label: "friend.title",
    needs: "friends",
    hidden: true,
    parent: "friends",
    render: (params) => <FriendDetail userId={params.userId} />,
  },
  { id: "chat", route: "/chat", label: "nav.chat", needs: "chatRead", render: () => <Chat /> },
  { id: "rules", route: "/rules", label: "nav.rules", needs: "reports", render: () => <Rules /> },
  { id: "broadcasts", route: "/broadcasts", label: "nav.broadcasts", needs: "reports", render: () => <Broadcasts /> },
  { id: "deliveries", route: "/deliveries", label: "nav.deliveries", needs: "reports", render: () => <Deliveries /> },
  { id: "scenarios", route: "/scenarios", label: "nav.scenarios", needs: "reports", render: () => <Scenarios /> },
  { id: "segments", route: "/segments", label: "nav.segments", needs: "reports", render: () => <Segments /> },
  { id: "richmenus", route: "/richmenus", label: "nav.richmenus", needs: "reports", render: () => <RichMenus /> },
  { id: "routes", route: "/routes", label: "nav.routes", needs: "reports", render: () => <Routes /> },
  { id: "tags", route: "/tags", label: "nav.tags", needs: "reports", render: () => <Tags /> },
  { id: "settings", route: "/settings", label: "nav.settings", needs: "reports", render: () => <Settings /> },
  { id: "audit", route: "/audit", label: "nav.audit", needs: "reports", render: () => <Audit /> },
  { id: "idlink", route: "/idlink", label: "nav.idlink", needs: "reports", render: () => <IdLink /> },
  { id: "staff", route: "/staff", label: "nav.staff", needs: "staff", render: () => <Staff /> },
];
