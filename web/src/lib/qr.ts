import QRCode from 'qrcode'

/** The options the WeChat Pay QR code is drawn with (the e2e test draws the same to compare). */
export const QR_OPTIONS = { type: 'svg', margin: 1, errorCorrectionLevel: 'M' } as const

/** `code_url` (weixin://wxpay/bizpayurl?pr=...) as an SVG image URL: allowed by img-src data:. */
export async function qrDataUrl(text: string): Promise<string> {
  const svg = await QRCode.toString(text, QR_OPTIONS)
  return 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg)
}
