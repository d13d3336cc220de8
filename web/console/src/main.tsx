import "@mantine/core/styles.css";
import { MantineProvider, createTheme } from "@mantine/core";
import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { loadConfig, type ConsoleConfig } from "./config";
import { I18nContext, storeLanguage, storedLanguage, translator, type Language } from "./i18n";

const theme = createTheme({ primaryColor: "green", defaultRadius: "md" });

function Root({ config }: { config: ConsoleConfig }) {
  const [language, setLanguage] = useState<Language>(storedLanguage);
  const i18n = useMemo(
    () => ({
      language,
      t: translator(language),
      setLanguage: (next: Language) => {
        storeLanguage(next);
        document.documentElement.lang = next;
        setLanguage(next);
      },
    }),
    [language],
  );
  return (
    <I18nContext.Provider value={i18n}>
      <App config={config} />
    </I18nContext.Provider>
  );
}

const root = createRoot(document.getElementById("root")!);
document.documentElement.lang = storedLanguage();
loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <MantineProvider theme={theme}>
          <Root config={config} />
        </MantineProvider>
      </StrictMode>,
    ),
  (error: Error) => root.render(<p role="alert">config.json: {error.message}</p>),
);
