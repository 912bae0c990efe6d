// Part of `cargo bench -p flotilla-web --bench web`: the list's first page and a large tree's
// page loaded in headless Chromium (Debian's chromium, playwright-core), R times each,
// alternating; prints JSON: each page's load times (navigation start to the load event, in ms)
// and the tab's JavaScript heap and the page's element count after the last load.
"use strict";
const { chromium } = require("playwright-core");

const env = process.env;
const rounds = Number(env.ROUNDS || 10);
const pages = JSON.parse(env.PAGES);

async function main() {
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.BASE}/?token=${env.TOKEN}`);
    const session = await context.newCDPSession(page);
    await session.send("Performance.enable");
    const results = pages.map((entry) => ({ ...entry, times: [], heap: 0, nodes: 0 }));
    for (let round = 0; round < rounds; round++) {
      for (const result of results) {
        await page.goto(`${env.BASE}${result.path}`, { waitUntil: "load" });
        const timing = await page.evaluate(() => {
          const entry = performance.getEntriesByType("navigation")[0];
          return entry.loadEventEnd - entry.startTime;
        });
        result.times.push(timing);
        const { metrics } = await session.send("Performance.getMetrics");
        const metric = (name) => (metrics.find((item) => item.name === name) || {}).value || 0;
        result.heap = metric("JSHeapUsedSize");
        result.nodes = await page.evaluate(() => document.getElementsByTagName("*").length);
      }
    }
    console.log(JSON.stringify(results));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
