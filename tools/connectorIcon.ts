import { encodePng } from './png';

/** "#0078D4" → [0, 120, 212]. */
export function parseHexColor(color: string): [number, number, number] {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!match) throw new Error(`not a #RRGGBB colour: ${color}`);
  return [
    Number.parseInt(match[1] ?? '', 16),
    Number.parseInt(match[2] ?? '', 16),
    Number.parseInt(match[3] ?? '', 16),
  ];
}

/**
 * The connector's icon: a white padlock on an opaque square of the brand colour, the logo about 160 px inside 230 px,
 * as the certification guidelines ask (a non-white, non-transparent background that matches iconBrandColor).
 * https://learn.microsoft.com/connectors/custom-connectors/certification-submission
 */
export function connectorIcon(brandColor: string, size = 230): Buffer {
  const background = parseHexColor(brandColor);
  const white: [number, number, number] = [255, 255, 255];
  const s = size / 230; // drawn on a 230 px grid, scaled
  const inRoundedRect = (x: number, y: number, left: number, top: number, right: number, bottom: number, r: number) => {
    const cx = Math.min(Math.max(x, left + r), right - r);
    const cy = Math.min(Math.max(y, top + r), bottom - r);
    return x >= left && x <= right && y >= top && y <= bottom && (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
  const colourAt = (px: number, py: number): [number, number, number] => {
    const x = px / s;
    const y = py / s + 10; // the padlock's box is y 60-190 on the grid: centred
    const keyhole = (x - 115) ** 2 + (y - 140) ** 2 <= 12 ** 2 || (x >= 109 && x <= 121 && y >= 140 && y <= 166);
    const body = inRoundedRect(x, y, 60, 100, 170, 190, 14);
    const ringDistance = Math.hypot(x - 115, y - 100);
    const shackle = ringDistance >= 25 && ringDistance <= 40 && y <= 100;
    const legs = y > 100 - 1 && y <= 104 && ((x >= 75 && x <= 90) || (x >= 140 && x <= 155));
    if (body) return keyhole ? background : white;
    return shackle || legs ? white : background;
  };
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) pixels.set(colourAt(x + 0.5, y + 0.5), (y * size + x) * 3);
  }
  return encodePng({ width: size, height: size, channels: 3, pixels });
}
