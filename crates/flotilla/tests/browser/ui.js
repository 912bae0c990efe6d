// The UI in headless Chromium (Debian's `chromium`, driven by playwright-core), against a
// `flotilla up` that web_browser.rs started: log in with the printed URL, the list shows the
// example's Applications with health and sync and follows changes without a reload, a manual
// Application is synced from its page, an out-of-band edit shows OutOfSync without a reload and
// in the diff page, one of a self-healing Application shows OutOfSync and then Synced again after
// the self-heal timeout, a Secret is masked in the diff, a refused sync shows the server's
// message, a read-only token cannot sync.
"use strict";
const assert = require("assert");
const { execFileSync } = require("child_process");
const { chromium } = require("playwright-core");

const env = process.env;
const base = env.FLOTILLA_URL;
const shots = env.FLOTILLA_SCREENSHOTS;
const WAIT = { timeout: 60000 };

function kubectl(args, input) {
  return execFileSync("kubectl", ["--kubeconfig", env.FLOTILLA_KUBECONFIG, ...args], {
    input,
    encoding: "utf8",
  });
}

function application(name, project, namespace) {
  return JSON.stringify({
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: "argocd" },
    spec: {
      project,
      source: {
        repoURL: "https://github.com/flotilla-dev/inventory-demo.git",
        targetRevision: "HEAD",
        path: "base/apps",
      },
      destination: { server: "https://kubernetes.default.svc", namespace },
      syncPolicy: { syncOptions: ["CreateNamespace=true"] },
    },
  });
}

async function screenshot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: env.FLOTILLA_CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await admin.newPage();

    // Log in with the URL `flotilla up` printed: the list, with health and sync.
    await page.goto(`${base}/?token=${env.FLOTILLA_ADMIN_TOKEN}`);
    assert.strictEqual(new URL(page.url()).pathname, "/applications");
    for (const name of ["apps-dev", "apps-staging", "kafka-dev", "mq-staging", "inventory"]) {
      const row = page.locator(`tr[data-key="argocd/${name}"]`);
      await row.waitFor(WAIT);
      const text = await row.innerText();
      assert.match(text, /\bSynced\b/, `${name}: ${text}`);
      assert.match(text, /Healthy|Progressing/, `${name}: ${text}`);
    }
    await page.locator("#live").waitFor({ state: "visible", ...WAIT });
    await screenshot(page, "applications");
    // Tiles: the same page as cards.
    await page.goto(`${base}/applications?view=tiles`);
    await page.locator('#tiles li[data-key="argocd/mq-staging"] .health-healthy').waitFor(WAIT);
    await screenshot(page, "tiles");
    // The operator catalog, with what the example's Subscriptions installed.
    await page.goto(`${base}/catalog`);
    await page.locator('#packages a[href="/catalog/strimzi-kafka-operator"]').waitFor(WAIT);
    await screenshot(page, "catalog");
    await page.goto(`${base}/topology`);
    await page.locator("table.topology").first().waitFor(WAIT);
    await screenshot(page, "topology");
    // The inventory app-of-apps' tree links to its children's pages.
    await page.goto(`${base}/applications/argocd/inventory`);
    await page.click('ul.tree a[href="/applications/argocd/apps-dev"]');
    await page.waitForURL("**/applications/argocd/apps-dev");
    // Keyboard: j moves to the first row's link, Enter opens it.
    await page.goto(`${base}/applications`);
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/applications/argocd/apps-dev");

    // Self-heal with a timeout (`flotilla up --self-heal-timeout 3s`): an edit out of band of a
    // self-healing Application shows OutOfSync on its page without a reload, the drifted object
    // with its reason, then Synced again once the engine repaired it.
    await page.goto(`${base}/applications/argocd/apps-dev`);
    await page.locator("#live").waitFor({ state: "visible", ...WAIT });
    await page.locator("#detail dl.facts .sync-synced").waitFor(WAIT);
    await page.evaluate(() => { window.flotillaMarker = "self-heal"; });
    const edited = Date.now();
    kubectl(["-n", "inventory-dev", "patch", "deployment", "store-simulator", "--type", "merge",
      "-p", '{"spec":{"replicas":7}}']);
    // The Application OutOfSync and, in the same rendering, the Deployment with its reason.
    const drifted = await page.waitForFunction(() => {
      const detail = document.getElementById("detail");
      if (!detail || !detail.querySelector("dl.facts .sync-outofsync")) return null;
      const link = detail.querySelector('ul.tree a[href*="resource=Deployment%2Finventory-dev%2Fstore-simulator"]');
      const node = link && link.closest("li");
      const reason = node && node.querySelector(":scope > .reason");
      return node && node.querySelector(":scope > .sync-outofsync") && reason ? reason.textContent : null;
    }, null, WAIT);
    const shown = Date.now() - edited;
    assert.ok(String(await drifted.jsonValue()).trim(), "the drifted Deployment says why");
    await page.locator("#detail dl.facts .sync-synced").waitFor(WAIT);
    const healed = Date.now() - edited;
    assert.strictEqual(await page.evaluate(() => window.flotillaMarker), "self-heal");
    const replicas = kubectl(["-n", "inventory-dev", "get", "deployment", "store-simulator",
      "-o", "jsonpath={.spec.replicas}"]);
    assert.strictEqual(replicas.trim(), "1", `replicas after the self-heal: ${replicas}`);
    console.log(`self-heal: OutOfSync on the page ${shown} ms after the edit, Synced again after ${healed} ms`);

    await page.goto(`${base}/applications`);
    await page.locator("#live").waitFor({ state: "visible", ...WAIT });

    // A new Application appears, OutOfSync, without a reload.
    await page.evaluate(() => { window.flotillaMarker = "list"; });
    kubectl(["apply", "-f", "-"], application("manual", "default", "manual"));
    const manual = page.locator('tr[data-key="argocd/manual"]');
    await manual.locator(".sync-outofsync").waitFor(WAIT);
    assert.strictEqual(await page.evaluate(() => window.flotillaMarker), "list");

    // Its page; Sync with prune from the UI; Synced without a reload.
    await manual.locator("a").click();
    await page.waitForURL("**/applications/argocd/manual");
    await page.locator("#live").waitFor({ state: "visible", ...WAIT });
    await page.locator("ul.tree .reason").first().waitFor(WAIT);
    await page.evaluate(() => { window.flotillaMarker = "application"; });
    await page.check('#sync input[name="prune"]');
    await page.click("#sync summary");
    await page.check('#sync input[value="PruneLast=true"]');
    await page.click("#sync button");
    await page.locator("#notice.notice", { hasText: "sync requested" }).waitFor(WAIT);
    await page.locator("#detail dl.facts .sync-synced").waitFor(WAIT);
    await page.locator("#detail dl.facts .phase-succeeded").waitFor(WAIT);
    await page.locator("#log table.history tbody tr").first().waitFor(WAIT);
    assert.strictEqual(await page.evaluate(() => window.flotillaMarker), "application");
    const operation = await page.evaluate(async () => {
      const answer = await fetch("/api/v1/applications/argocd/manual");
      return (await answer.json()).status.operationState.operation;
    });
    assert.strictEqual(operation.sync.prune, true, JSON.stringify(operation));
    assert.deepStrictEqual(operation.sync.syncOptions, ["PruneLast=true"], JSON.stringify(operation));
    await screenshot(page, "application");

    // An edit out of band: OutOfSync on the page without a reload, the field in the diff.
    kubectl(["-n", "manual", "patch", "deployment", "store-simulator", "--type", "merge",
      "-p", '{"spec":{"replicas":3}}']);
    await page.locator("#detail dl.facts .sync-outofsync").waitFor(WAIT);
    await page.locator("ul.tree .reason").first().waitFor(WAIT);
    assert.strictEqual(await page.evaluate(() => window.flotillaMarker), "application");
    // The object's page: the reason, the diff and both manifests.
    await page.click('ul.tree a[href*="resource=Deployment%2Fmanual%2Fstore-simulator"]');
    await page.waitForURL("**/applications/argocd/manual/resource?*");
    const details = await page.locator("main").innerText();
    assert.match(details, /replicas/);
    assert.match(details, /Desired/);
    assert.match(details, /Live/);
    await screenshot(page, "resource");
    await page.goBack();
    await page.click('a[href$="/diff"]');
    await page.waitForURL("**/applications/argocd/manual/diff");
    const diff = await page.locator("pre.diff").allInnerTexts();
    assert.ok(diff.some((text) => /replicas/.test(text)), diff.join("\n---\n"));
    await screenshot(page, "diff");

    // A Secret from Git (the `secretive` Application web_browser.rs made): masked in the diff
    // page and in the object's page, never its value in plain text or base64.
    await page.goto(`${base}/applications/argocd/secretive/diff`);
    await page.locator("pre.diff").first().waitFor(WAIT);
    const secretDiff = await page.locator("main").innerText();
    assert.match(secretDiff, /Secret\/secretive\/demo/, secretDiff);
    assert.match(secretDiff, /\+{8}/, secretDiff);
    for (const text of [secretDiff, await page.content()]) {
      assert.doesNotMatch(text, /hunter2|aHVudGVyMi1pbi1naXQ/, text);
    }
    await page.goto(`${base}/applications/argocd/secretive/resource?resource=Secret%2Fsecretive%2Fdemo`);
    const secretPage = await page.content();
    assert.match(secretPage, /\+{8}/, secretPage);
    assert.doesNotMatch(secretPage, /hunter2|aHVudGVyMi1pbi1naXQ/, secretPage);

    // A sync the AppProject refuses shows the server's message.
    kubectl(["apply", "-f", "-"], application("outside", "inventory", "elsewhere"));
    await page.goto(`${base}/applications/argocd/outside`);
    await page.click("#sync button");
    const refused = page.locator("#notice.error");
    await refused.waitFor(WAIT);
    assert.match(await refused.innerText(), /does not permit destination/);

    // A read-only token: the button is disabled and the API answers 403.
    const reader = await browser.newContext();
    const readerPage = await reader.newPage();
    await readerPage.goto(`${base}/?token=${env.FLOTILLA_READ_ONLY_TOKEN}`);
    await readerPage.goto(`${base}/applications/argocd/manual`);
    assert.ok(await readerPage.locator("#sync button").isDisabled());
    const status = await readerPage.evaluate(async () => {
      const answer = await fetch("/api/v1/applications/argocd/manual/sync", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      return answer.status;
    });
    assert.strictEqual(status, 403);
    console.log("browser checks passed");
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
