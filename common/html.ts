/** Text safe inside HTML elements and attribute values (the html report, the approval app, the local login). */
export function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
