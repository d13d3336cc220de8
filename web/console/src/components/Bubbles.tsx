// A LINE-like chat preview: the bot's bubbles on the left, on LINE's blue-grey.
import { Box, Image, Paper, Stack, Text } from "@mantine/core";
import type { Bubble } from "../preview";

export function Bubbles({ items, id }: { items: Bubble[]; id?: string }) {
  return (
    <Box id={id} p="sm" style={{ background: "#8cabd8", borderRadius: 12, minHeight: 120 }} data-testid="bubbles">
      <Stack gap="xs" align="flex-start">
        {items.map((bubble, index) => (
          <BubbleView bubble={bubble} key={index} />
        ))}
      </Stack>
    </Box>
  );
}

function BubbleView({ bubble }: { bubble: Bubble }) {
  const card = { maxWidth: 280, borderRadius: 16, overflow: "hidden" } as const;
  switch (bubble.kind) {
    case "text":
      return (
        <Paper px="sm" py={6} style={{ ...card, whiteSpace: "pre-wrap" }} className="bubble-text">
          <Text size="sm" c="dark">{bubble.text}</Text>
        </Paper>
      );
    case "image":
      return (
        <Paper style={card}>
          <Image src={bubble.url} alt="" w={240} fallbackSrc="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='240' height='160'/%3E" />
        </Paper>
      );
    case "buttons":
      return (
        <Paper style={{ ...card, width: 260 }}>
          {bubble.imageUrl && <Image src={bubble.imageUrl} alt="" h={120} />}
          <Stack gap={4} p="sm">
            {bubble.title && <Text fw={700} size="sm" c="dark">{bubble.title}</Text>}
            <Text size="sm" c="dark" style={{ whiteSpace: "pre-wrap" }}>{bubble.text}</Text>
          </Stack>
          {bubble.buttons.map((label, index) => (
            <Text key={index} ta="center" size="sm" c="blue.9" py={6} style={{ borderTop: "1px solid #e9ecef" }}>
              {label}
            </Text>
          ))}
        </Paper>
      );
    case "flex":
      return (
        <Paper style={{ ...card, width: 260 }} p="sm">
          <Stack gap={4}>
            {bubble.texts.map((text, index) => (
              <Text key={index} size="sm" c="dark">{text}</Text>
            ))}
            <Text size="xs" c="dimmed">{bubble.altText}</Text>
          </Stack>
        </Paper>
      );
    default:
      return (
        <Paper px="sm" py={6} style={card}>
          <Text size="sm" c="dimmed">{bubble.label}</Text>
        </Paper>
      );
  }
}
