// Drives the playground in headless Chromium: upload, live progress, the
// finished video, the language switch. Screenshots go to $OUT (default .cache/playground).
//   node scripts/playground-check.js URL IMAGE
const { chromium } = require('playwright-core');
const out = process.env.OUT || '.cache/playground';
require('fs').mkdirSync(out, { recursive: true });
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run'] });
  const page = await browser.newPage({ viewport: { width: 420, height: 900 } });
  const logs = [];
  page.on('console', m => logs.push(m.type() + ': ' + m.text()));
  page.on('pageerror', e => logs.push('pageerror: ' + e.message));
  await page.goto(process.argv[2]);
  await page.waitForTimeout(500);
  console.log('balance before:', await page.textContent('#balance'));
  await page.setInputFiles('#image', process.argv[3]);
  await page.fill('#prompt', '镜头缓慢推近，暗转');
  await page.screenshot({ path: out + '/1-form.png', fullPage: true });
  await page.click('#submit');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out + '/2-progress.png', fullPage: true });
  console.log('status while running:', await page.textContent('#status'), 'bar', await page.getAttribute('#bar', 'value'));
  await page.waitForSelector('#result:not([hidden])', { timeout: 120000 });
  await page.waitForTimeout(1000);
  const v = await page.evaluate(() => { const v = document.querySelector('#video'); return { src: v.currentSrc || v.src, dur: v.duration, rs: v.readyState }; });
  console.log('video', JSON.stringify(v));
  console.log('balance after:', await page.textContent('#balance'));
  await page.screenshot({ path: out + '/3-done.png', fullPage: true });
  await page.click('#lang');
  await page.waitForTimeout(300);
  await page.screenshot({ path: out + '/4-en.png', fullPage: true });
  console.log(logs.join('\n'));
  await browser.close();
  if (!v.src.includes('/media/') || !(v.dur > 4.5)) { console.error('no playable video'); process.exit(1); }
})().catch(e => { console.error(e); process.exit(1); });
