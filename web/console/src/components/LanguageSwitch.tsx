import { SegmentedControl } from "@mantine/core";
import { useI18n, type Language } from "../i18n";

export function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <SegmentedControl
      id="language-switch"
      aria-label={t("app.language")}
      size="xs"
      value={language}
      onChange={(value) => setLanguage(value as Language)}
      data={[
        { value: "ja", label: "日本語" },
        { value: "en", label: "English" },
      ]}
    />
  );
}
