import Crypto
import Domain
import Hummingbird
import NIOCore

/// The portal's one stylesheet and one script, served under names that carry a hash of their
/// content (`/assets/portal-1a2b3c4d5e6f.css`), so they can be cached for a year and a new
/// version is never mixed with an old page. Nothing is fetched from elsewhere.
struct PortalAssets: Sendable {
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let body: ByteBuffer
    }

    let stylesheet: Asset
    let script: Asset
    /// The viewer of streamed workspaces: noVNC (served from its installed place) on the stream.
    let streamViewer: Asset

    init() {
        stylesheet = Self.asset("portal", "css", "text/css; charset=utf-8", Self.css)
        script = Self.asset("portal", "js", "text/javascript; charset=utf-8", Self.js)
        streamViewer = Self.asset("stream-viewer", "js", "text/javascript; charset=utf-8", Self.streamViewerJS)
    }

    private static func asset(_ name: String, _ suffix: String, _ contentType: String, _ text: String) -> Asset {
        let digest = Hex.encode(SHA256.hash(data: Array(text.utf8)))
        return Asset(path: "/assets/\(name)-\(digest.prefix(12)).\(suffix)", contentType: contentType, body: ByteBuffer(string: text))
    }

    func register(on router: Router<PortalRequestContext>) {
        for asset in [stylesheet, script, streamViewer] {
            router.get(RouterPath(asset.path)) { _, _ in
                Response(
                    status: .ok,
                    headers: [
                        .contentType: asset.contentType, .contentLength: String(asset.body.readableBytes),
                        .cacheControl: "public, max-age=31536000, immutable",
                    ],
                    body: .init(byteBuffer: asset.body))
            }
        }
    }

    /// System fonts, a 4-px grid, one accent, light and dark schemes with at least 4.5:1 contrast
    /// for text, and a focus ring on everything that takes focus.
    static let css = """
        :root{--bg:#f6f7f9;--surface:#fff;--text:#1b1f24;--muted:#4d5663;--line:#d4d8de;--accent:#1d5fbf;--accent-text:#fff;
        --ok:#1a6b34;--ok-bg:#e3f4e8;--warn:#7a4a00;--warn-bg:#fff1d6;--danger:#a3191f;--danger-bg:#fde7e8;--focus:#1d5fbf;
        color-scheme:light dark;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
        @media (prefers-color-scheme:dark){:root{--bg:#111418;--surface:#1b2027;--text:#e9edf2;--muted:#aeb7c2;--line:#39414c;
        --accent:#7fb0ff;--accent-text:#0b1a33;--ok:#8fdca6;--ok-bg:#16301f;--warn:#ffd08a;--warn-bg:#3a2a0d;--danger:#ffa3a6;--danger-bg:#3d1518;--focus:#7fb0ff}}
        *{box-sizing:border-box}
        [hidden]{display:none!important}
        body{margin:0;background:var(--bg);color:var(--text);min-height:100vh;display:flex;flex-direction:column}
        a{color:var(--accent)}
        :focus-visible{outline:2px solid var(--focus);outline-offset:2px}
        .skip{position:absolute;left:-999px;top:8px;background:var(--surface);padding:8px 12px;z-index:10}
        .skip:focus{left:8px}
        .visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
        .topbar{display:flex;flex-wrap:wrap;align-items:center;gap:8px 24px;padding:8px 24px;background:var(--surface);border-bottom:1px solid var(--line)}
        .brand{display:flex;align-items:center;gap:8px;font-weight:700;font-size:1.125rem;text-decoration:none;color:var(--text)}
        .topbar nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;margin:0;padding:0}
        .topbar nav a{display:inline-block;padding:4px 0;text-decoration:none;color:var(--text)}
        .topbar nav a[aria-current=page]{color:var(--accent);border-bottom:2px solid var(--accent)}
        .who{margin-left:auto;display:flex;flex-wrap:wrap;align-items:center;gap:8px}
        .email{color:var(--muted);overflow-wrap:anywhere}
        .badge,.pill{display:inline-block;padding:0 8px;border-radius:12px;font-size:.875rem;background:var(--bg);border:1px solid var(--line);color:var(--text)}
        .ok{background:var(--ok-bg);color:var(--ok);border-color:transparent}
        .warn{background:var(--warn-bg);color:var(--warn);border-color:transparent}
        .danger{background:var(--danger-bg);color:var(--danger);border-color:transparent}
        main{flex:1;width:100%;max-width:1120px;margin:0 auto;padding:24px}
        main:focus{outline:none}
        .narrow main{max-width:440px}
        h1{font-size:1.75rem;margin:0 0 16px}
        h2{font-size:1.25rem;margin:24px 0 8px}
        .card{background:var(--surface);border:1px solid var(--line);border-radius:8px;padding:16px}
        .form{display:flex;flex-direction:column;gap:4px}
        .form label{font-weight:600;margin-top:8px}
        input,textarea{font:inherit;color:var(--text);background:var(--surface);border:1px solid var(--muted);border-radius:4px;padding:8px}
        input[aria-invalid=true],textarea[aria-invalid=true]{border-color:var(--danger)}
        button,.button{font:inherit;display:inline-block;padding:8px 16px;border-radius:4px;border:1px solid var(--line);background:var(--surface);color:var(--text);cursor:pointer;text-decoration:none}
        button.primary,.button.primary{background:var(--accent);color:var(--accent-text);border-color:var(--accent);margin-top:16px}
        button.danger{border-color:var(--danger)}
        button.link{border:0;background:none;color:var(--accent);text-decoration:underline;padding:4px}
        form.inline{display:inline}
        .error{color:var(--danger);background:var(--danger-bg);padding:8px 12px;border-radius:4px}
        .secret-key code{font-size:1.125rem;overflow-wrap:anywhere}
        .codes{columns:2 13em;padding-left:1.5em}
        .codes code{white-space:nowrap}
        .flash{max-width:1120px;margin:16px auto 0;padding:8px 12px;border-radius:4px;width:calc(100% - 48px)}
        .muted,.footer{color:var(--muted)}
        .footer{padding:16px 24px;font-size:.875rem}
        .figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:16px}
        .figure{background:var(--surface);border:1px solid var(--line);border-radius:8px;padding:16px;display:flex;flex-direction:column}
        .figure .value{font-size:2rem;font-weight:700}
        .cards{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:16px}
        .cards h2{margin-top:0}
        .table-wrap{overflow-x:auto}
        table{width:100%;border-collapse:collapse;background:var(--surface)}
        th,td{text-align:left;padding:8px;border-bottom:1px solid var(--line);vertical-align:top}
        thead th{position:sticky;top:0;background:var(--surface)}
        tbody tr:nth-child(even){background:var(--bg)}
        .empty{padding:16px;background:var(--surface);border:1px dashed var(--line);border-radius:8px}
        .viewer main{max-width:none;padding:0;display:flex;flex-direction:column}
        .viewer-bar{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;padding:8px 16px;background:var(--surface);border-bottom:1px solid var(--line)}
        .viewer-bar h1{font-size:1.125rem;margin:0}
        .stream-screen{height:75vh;min-height:240px;background:#111;overflow:hidden}
        .stream-status{margin:0;padding:4px 16px;color:var(--muted)}
        .remaining{margin:0 auto 0 0}
        .workspace-frame{flex:1;width:100%;min-height:calc(100vh - 160px);border:0;background:#000}
        .ended{margin:24px auto;max-width:560px}
        .filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:8px 16px;align-items:start;margin-bottom:16px}
        .filters label{display:block;font-weight:600}
        .filters input,.filters select{width:100%;font:inherit;color:var(--text);background:var(--surface);border:1px solid var(--muted);border-radius:4px;padding:8px}
        .filters .actions{align-self:end}
        .filters .actions .primary{margin-top:0}
        .help{margin:4px 0 0;color:var(--muted);font-size:.875rem}
        .field-error{margin:4px 0 0;color:var(--danger);font-size:.875rem}
        .detail{display:inline-block;font-size:.875rem;overflow-wrap:anywhere}
        fieldset{border:0;margin:0;padding:0}
        legend{font-weight:600;margin-top:8px}
        .choice{margin:8px 0}
        .choice label{font-weight:600;margin-left:8px}
        .grid-form{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:8px 16px;margin-bottom:16px}
        .grid-form .wide{grid-column:1/-1}
        .grid-form label,.grid-form legend{display:block;font-weight:600}
        .grid-form input:not([type=checkbox]),.grid-form select,.grid-form textarea{width:100%;font:inherit;color:var(--text);background:var(--surface);border:1px solid var(--muted);border-radius:4px;padding:8px}
        .number{text-align:right}
        .danger-zone{border-color:var(--danger);margin-bottom:16px}
        .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
        .chart-card{margin:0}
        .chart-card figcaption{font-weight:600;margin-bottom:8px}
        .chart{width:100%;height:auto;display:block}
        .chart .signins{fill:var(--accent)}
        .chart .launches{fill:var(--ok)}
        .chart .axis{stroke:var(--muted)}
        .chart .tick{fill:var(--muted);font-size:11px}
        .legend{margin:0 0 8px}
        .key{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:middle;margin-left:8px}
        .key.signins{background:var(--accent)}
        .key.launches{background:var(--ok)}
        """

    /// Progressive enhancement only: the viewer's countdown and heartbeats. Every page works
    /// without it.
    static let js = """
        "use strict";
        (function () {
          function words(ms) {
            if (ms < 120000) {
              var s = Math.max(0, Math.ceil(ms / 1000));
              return s === 1 ? "1 second" : s + " seconds";
            }
            var m = Math.ceil(ms / 60000);
            if (m < 120) { return m + " minutes"; }
            var h = Math.floor(m / 60);
            m = m % 60;
            return h + " hours" + (m === 0 ? "" : m === 1 ? " 1 minute" : " " + m + " minutes");
          }
          var countdown = document.querySelector("[data-expires]");
          var remaining = countdown && countdown.querySelector(".remaining");
          if (remaining) {
            var end = Date.parse(countdown.getAttribute("data-expires"));
            var tick = function () {
              var left = end - Date.now();
              remaining.textContent = left > 0 ? "Ends in " + words(left) + "." : "Time is up.";
              if (left <= 0) { window.clearInterval(timer); window.setTimeout(function () { window.location.reload(); }, 1500); }
            };
            var timer = window.setInterval(tick, 1000);
            tick();
          }
          var bar = document.querySelector(".viewer-bar");
          if (bar && bar.hasAttribute("data-active")) {
            var session = bar.getAttribute("data-session");
            var csrf = bar.getAttribute("data-csrf");
            window.setInterval(function () {
              fetch("/sessions/" + encodeURIComponent(session) + "/heartbeat", {
                method: "POST", credentials: "same-origin",
                headers: { "Content-Type": "application/x-www-form-urlencoded" },
                body: "csrf=" + encodeURIComponent(csrf)
              }).then(function (response) {
                // Ended (409), gone (404), or no longer signed in here (signed out in another tab,
                // a revoked or disabled account: the form's token no longer matches, 403; 401):
                // the page, reloaded, says which.
                if ([401, 403, 404, 409].indexOf(response.status) >= 0 || response.redirected) {
                  window.location.reload();
                }
              });
            }, 30000);
          }
        })();
        """

    /// The stream viewer (a module: it imports noVNC's RFB client from `/novnc/`, which NeoSC
    /// serves from Debian's `novnc` package). It asks the portal for a stream ticket, opens the
    /// stream, and when the stream closes asks whether the session is still there: if not, the
    /// page reloads and says why it ended; if so, it offers to reconnect.
    static let streamViewerJS = """
        import RFB from "/novnc/core/rfb.js";
        const screen = document.getElementById("stream-screen");
        const status = document.getElementById("stream-status");
        const again = document.getElementById("stream-reconnect");
        const session = encodeURIComponent(screen.getAttribute("data-session"));
        const form = "csrf=" + encodeURIComponent(screen.getAttribute("data-csrf"));
        const post = (path) => fetch("/sessions/" + session + path, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form
        });
        const gone = (response) => response.status === 409 || response.status === 404 || response.redirected;
        // A heartbeat refused for want of a session (signed out elsewhere, revoked: 401, or the
        // form's token no longer matching, 403) ends the viewer too; a ticket's 403 may be a
        // policy's, said on the page, so it is not reloaded for.
        const ended = (response) => gone(response) || response.status === 401 || response.status === 403;
        async function connect() {
          again.hidden = true;
          status.textContent = "Connecting to the workspace…";
          const answer = await post("/stream-ticket");
          if (gone(answer)) { window.location.reload(); return; }
          if (!answer.ok) { status.textContent = "The stream could not be opened (" + answer.status + ")."; again.hidden = false; return; }
          const grant = await answer.json();
          const rfb = new RFB(screen, grant.stream_url, { wsProtocols: ["binary"] });
          rfb.scaleViewport = true;
          rfb.addEventListener("connect", () => {
            status.textContent = "Connected.";
            screen.setAttribute("data-connected", "");
          });
          rfb.addEventListener("disconnect", async () => {
            screen.removeAttribute("data-connected");
            status.textContent = "The connection to the workspace closed.";
            const beat = await post("/heartbeat");
            if (ended(beat)) { window.location.reload(); return; }
            again.hidden = false;
          });
        }
        again.addEventListener("click", connect);
        connect();
        """
}
