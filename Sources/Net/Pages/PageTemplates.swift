/// The portal's Mustache templates (swift-mustache): one layout and one template per page, kept
/// in the binary so that `neosc` is the whole product. `{{name}}` escapes HTML (quotes included)
/// by `PageEscaping`, which the layout and each partial select first (a page is drawn inside the
/// layout); no template uses `{{{…}}}` on anything but markup NeoSC drew itself (the top bar's
/// navigation and account, the dashboard's charts and activity rows, written by `MarkupBytes`,
/// which escapes text as `PageEscaping` does).
enum PageTemplates {
    static let all: [String: String] = [
        "layout": layout, "sign-in": signIn, "password": password, "second-factor": secondFactor, "enroll": enroll, "dashboard": dashboard,
        "workspaces": workspaces, "open": open, "viewer": viewer, "sessions": sessions, "problem": problem, "audit": audit,
        "demo": demo, "demo-session": demoSession, "workspace-fields": workspaceFields, "admin-workspaces": adminWorkspaces,
        "admin-workspace": adminWorkspace, "admin-policies": adminPolicies,
        "register": register, "admin-users": adminUsers, "admin-demos": adminDemos,
        "admin-organizations": adminOrganizations,
    ]

    static let layout = """
        {{% CONTENT_TYPE: PORTAL_HTML}}<!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="same-origin">
        <title>{{title}} · NeoSC</title>
        <link rel="stylesheet" href="{{assets.stylesheet}}">
        <script src="{{assets.script}}" defer></script>
        {{$head}}{{/head}}
        </head>
        <body class="{{$bodyClass}}page{{/bodyClass}}">
        <a class="skip" href="#main">Skip to content</a>
        <header class="topbar">
          <a class="brand" href="/"><svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><path d="M12 2 3 6v6c0 5 3.8 9.3 9 10 5.2-.7 9-5 9-10V6z" fill="none" stroke="currentColor" stroke-width="2"/><path d="m8 12 3 3 5-6" fill="none" stroke="currentColor" stroke-width="2"/></svg>NeoSC</a>
        {{{chrome.header}}}</header>
        {{#chrome.notice}}<div class="flash ok" role="status">{{.}}</div>{{/chrome.notice}}
        {{#chrome.alert}}<div class="flash danger" role="alert">{{.}}</div>{{/chrome.alert}}
        <main id="main" tabindex="-1">
        {{$main}}{{/main}}
        </main>
        <footer class="footer">NeoSC {{chrome.version}}</footer>
        </body>
        </html>
        """

    static let signIn = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>Sign in</h1>
        {{#body.problem}}<p class="error" role="alert" id="sign-in-problem">{{.}}</p>{{/body.problem}}
        <form method="post" action="/sign-in" class="card form" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <label for="email">E-mail</label>
          <input id="email" name="email" type="text" inputmode="email" autocapitalize="none" spellcheck="false" autocomplete="username" required value="{{body.email}}"{{#body.problem}} aria-describedby="sign-in-problem" aria-invalid="true"{{/body.problem}} autofocus>
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required{{#body.problem}} aria-describedby="sign-in-problem" aria-invalid="true"{{/body.problem}}>
          <button type="submit" class="primary">Sign in</button>
        </form>
        {{#body.sso}}<p class="alt"><a class="button" href="/api/auth/oidc/start">Sign in with Zitadel</a></p>{{/body.sso}}
        {{#body.registration}}<p class="alt">New here? <a href="/register">Create an account</a>.</p>{{/body.registration}}
        {{/main}}
        {{/layout}}
        """

    /// Choosing a password: before signing in, after an administrator's reset (`required`), or
    /// signed in.
    static let password = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        {{#body.required}}<h1>Choose a new password</h1>
        <p>An administrator has reset your password. Enter the one you were given, then choose your own: you are signed in with it.</p>{{/body.required}}
        {{^body.required}}<h1>Change your password</h1>
        <p>When it changes, your other sign-ins are signed out and your open workspaces close; this page stays signed in.</p>{{/body.required}}
        {{#body.problem}}<p class="error" role="alert" id="password-problem">{{.}}</p>{{/body.problem}}
        <form method="post" action="{{body.action}}" class="card form" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          {{#body.required}}
          <label for="email">E-mail</label>
          <input id="email" name="email" type="text" inputmode="email" autocapitalize="none" spellcheck="false" autocomplete="username" required value="{{body.email}}"{{#body.field.email}} aria-invalid="true" aria-describedby="password-problem"{{/body.field.email}}{{#body.focus.email}} autofocus{{/body.focus.email}}>
          <label for="current_password">Password you were given</label>
          <input id="current_password" name="current_password" type="password" autocomplete="current-password" required{{#body.field.current_password}} aria-invalid="true" aria-describedby="password-problem"{{/body.field.current_password}}{{#body.focus.current_password}} autofocus{{/body.focus.current_password}}>
          {{/body.required}}
          {{^body.required}}
          <label for="current_password">Current password</label>
          <input id="current_password" name="current_password" type="password" autocomplete="current-password" required{{#body.field.current_password}} aria-invalid="true" aria-describedby="password-problem"{{/body.field.current_password}}{{#body.focus.current_password}} autofocus{{/body.focus.current_password}}>
          {{/body.required}}
          <label for="new_password">New password</label>
          <input id="new_password" name="new_password" type="password" autocomplete="new-password" required aria-describedby="new-password-help{{#body.field.new_password}} password-problem{{/body.field.new_password}}"{{#body.field.new_password}} aria-invalid="true"{{/body.field.new_password}}{{#body.focus.new_password}} autofocus{{/body.focus.new_password}}>
          <p class="help" id="new-password-help">8 to 128 characters, not the one you have now; a long phrase is best.</p>
          <label for="repeated_password">New password again</label>
          <input id="repeated_password" name="repeated_password" type="password" autocomplete="new-password" required{{#body.field.repeated_password}} aria-invalid="true" aria-describedby="password-problem"{{/body.field.repeated_password}}{{#body.focus.repeated_password}} autofocus{{/body.focus.repeated_password}}>
          {{#body.required}}
          <label for="code">Code from your authenticator</label>
          <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" aria-describedby="code-help{{#body.field.code}} password-problem{{/body.field.code}}"{{#body.field.code}} aria-invalid="true"{{/body.field.code}}{{#body.focus.code}} autofocus{{/body.focus.code}}>
          <p class="help" id="code-help">Only if your account has a second factor: the six digits your app shows, or a recovery code.</p>
          {{/body.required}}
          <button type="submit" class="primary">Change password</button>
        </form>
        {{#body.required}}<p class="alt"><a href="/sign-in">Back to sign in</a></p>{{/body.required}}
        {{/main}}
        {{/layout}}
        """

    static let register = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>Create an account</h1>
        {{#body.problem}}<p class="error" role="alert" id="register-problem">{{.}}</p>{{/body.problem}}
        <form method="post" action="/register" class="card form" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <label for="name">Your name</label>
          <input id="name" name="name" autocomplete="name" value="{{body.name}}"{{#body.field.name}} aria-invalid="true" aria-describedby="register-problem" autofocus{{/body.field.name}}>
          <label for="email">E-mail</label>
          <input id="email" name="email" type="text" inputmode="email" autocapitalize="none" spellcheck="false" autocomplete="email" value="{{body.email}}"{{#body.field.email}} aria-invalid="true" aria-describedby="register-problem" autofocus{{/body.field.email}}>
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="new-password" aria-describedby="password-help{{#body.field.password}} register-problem{{/body.field.password}}"{{#body.field.password}} aria-invalid="true" autofocus{{/body.field.password}}>
          <p class="help" id="password-help">8 to 128 characters; a long phrase is best.</p>
          <label for="organization">Organisation (optional)</label>
          <input id="organization" name="organization" autocomplete="organization" value="{{body.organization}}"{{#body.field.organization}} aria-invalid="true" aria-describedby="register-problem" autofocus{{/body.field.organization}}>
          <button type="submit" class="primary">Create account</button>
        </form>
        <p class="alt">Have an account? <a href="/sign-in">Sign in</a>.</p>
        {{/main}}
        {{/layout}}
        """

    static let secondFactor = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>Enter your code</h1>
        <p>Open your authenticator app and enter the six-digit code for NeoSC, or one of your recovery codes.</p>
        {{#body.problem}}<p class="error" role="alert" id="code-problem">{{.}}</p>{{/body.problem}}
        <form method="post" action="/sign-in/code" class="card form" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <label for="code">Code</label>
          <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required{{#body.problem}} aria-describedby="code-problem" aria-invalid="true"{{/body.problem}} autofocus>
          <button type="submit" class="primary">Verify</button>
        </form>
        <p class="alt"><a href="/sign-in">Start again</a></p>
        {{/main}}
        {{/layout}}
        """

    /// The sign-in of an account that must enrol a second factor first (an `mfa_required`
    /// policy): why, then the key and recovery codes (shown once), then the code that confirms.
    static let enroll = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>Set up a second factor</h1>
        {{#body.problem}}<p class="error" role="alert" id="enroll-problem">{{.}}</p>{{/body.problem}}
        {{^body.started}}
        <p>Your organisation requires a second factor to sign in to this account. You need an authenticator app (such as FreeOTP, Aegis or Google Authenticator) on a device you keep with you.</p>
        <form method="post" action="/sign-in/enroll" class="card form">
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <p>NeoSC will show a key to add to the app, and ten recovery codes.</p>
          <button type="submit" class="primary">Show my key</button>
        </form>
        {{/body.started}}
        {{#body.enrollment}}
        <section class="card" aria-labelledby="key-heading">
          <h2 id="key-heading">1. Add this key to your authenticator</h2>
          <p>Choose to enter a key by hand, name it NeoSC, and type:</p>
          <p class="secret-key"><code>{{secret}}</code></p>
          <p>On this device, the app may also open from <a href="{{otpauthURI}}">this link</a>.</p>
          <h2 id="codes-heading">2. Keep your recovery codes</h2>
          <p>Each signs you in once if you lose the device. They are shown only now: save or print them somewhere safe.</p>
          <ul class="codes" aria-labelledby="codes-heading">{{#recoveryCodes}}<li><code>{{.}}</code></li>{{/recoveryCodes}}</ul>
        </section>
        {{/body.enrollment}}
        {{#body.started}}
        <form method="post" action="/sign-in/enroll/confirm" class="card form" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <label for="code">{{#body.enrollment}}3. {{/body.enrollment}}The six-digit code the app shows now</label>
          <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required{{#body.problem}} aria-describedby="enroll-problem" aria-invalid="true"{{/body.problem}}{{^body.enrollment}} autofocus{{/body.enrollment}}>
          <button type="submit" class="primary">Confirm and sign in</button>
        </form>
        <form method="post" action="/sign-in/enroll" class="alt">
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <button type="submit" class="link">Start again with a new key</button>
        </form>
        {{/body.started}}
        <p class="alt"><a href="/sign-in">Back to sign-in</a></p>
        {{/main}}
        {{/layout}}
        """

    static let dashboard = """
        {{<layout}}
        {{$main}}
        <h1>Dashboard</h1>
        <section class="figures" aria-label="Figures">
          <div class="figure"><span class="value">{{body.activeSessions}}</span><span class="label">{{body.sessionsLabel}}</span></div>
          <div class="figure"><span class="value">{{body.availableWorkspaces}}</span><span class="label">workspaces available to you</span></div>
          <div class="figure"><span class="value">{{body.securityScore}}</span><span class="label">security score (of 100)</span></div>
          <div class="figure"><span class="value">{{body.signIns}}</span><span class="label">sign-ins in the last 24 hours</span></div>
        </section>
        {{#body.hasAdvice}}
        <section aria-labelledby="advice-title">
          <h2 id="advice-title">What would raise the score</h2>
          <ul class="advice">{{#body.advice}}<li>{{.}}</li>{{/body.advice}}</ul>
        </section>
        {{/body.hasAdvice}}
        <section aria-labelledby="chart-title">
          <h2 id="chart-title">Sign-ins and launches</h2>
          <p class="legend"><span class="key signins" aria-hidden="true"></span> Sign-ins <span class="key launches" aria-hidden="true"></span> Launches</p>
          <div class="charts">
          {{#body.charts}}
          <figure class="card chart-card"><figcaption>{{title}}</figcaption>{{{svg}}}
            <details><summary>Show data</summary><div class="table-wrap"><table>
              <thead><tr><th scope="col">From</th><th scope="col" class="number">Sign-ins</th><th scope="col" class="number">Launches</th></tr></thead>
              <tbody>{{{tableRows}}}</tbody>
            </table></div></details>
          </figure>
          {{/body.charts}}
          </div>
        </section>
        <section aria-labelledby="activity-title">
          <h2 id="activity-title">Recent activity</h2>
          {{#body.hasActivity}}
          <div class="table-wrap"><table>
            <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Result</th></tr></thead>
            <tbody>
            {{{body.activityRows}}}
            </tbody>
          </table></div>
          {{/body.hasActivity}}
          {{^body.hasActivity}}<p class="empty">Nothing yet. <a href="/workspaces">Launch a workspace</a> and it shows here.</p>{{/body.hasActivity}}
        </section>
        {{/main}}
        {{/layout}}
        """

    static let workspaces = """
        {{<layout}}
        {{$main}}
        <h1>Workspaces</h1>
        {{#body.hasCards}}
        <ul class="cards">
        {{#body.cards}}
          <li class="card workspace">
            <h2>{{name}}</h2>
            <p class="type"><span class="pill">{{type}}</span> <span class="pill {{statusClass}}">{{statusLabel}}</span></p>
            <p>{{description}}</p>
            <p class="resources">{{cpu}} CPU · {{memory}} GiB memory · {{storage}} GiB storage</p>
            <p class="sessions">{{activeSessions}} active session{{^oneSession}}s{{/oneSession}}</p>
            {{#launchable}}
            <form method="post" action="/workspaces/{{id}}/launch"{{#newTab}} target="_blank"{{/newTab}}>
              <input type="hidden" name="csrf" value="{{chrome.csrf}}">
              <button type="submit" class="primary">Launch<span class="visually-hidden"> {{name}}</span>{{#newTab}} <span aria-hidden="true">↗</span><span class="visually-hidden"> (opens a new tab)</span>{{/newTab}}</button>
            </form>
            {{/launchable}}
            {{^launchable}}<p class="muted">{{unavailable}}</p>{{/launchable}}
          </li>
        {{/body.cards}}
        </ul>
        {{/body.hasCards}}
        {{^body.hasCards}}<p class="empty">No workspace is open to your role yet. An administrator can grant one.</p>{{/body.hasCards}}
        {{/main}}
        {{/layout}}
        """

    /// Where a `new_tab` launch lands: the connection opens from here (a redirect straight from the
    /// form's post would be blocked by the pages' `form-action 'self'`).
    static let open = """
        {{<layout}}
        {{$head}}<meta http-equiv="refresh" content="0;url={{body.url}}">{{/head}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>Opening {{body.name}}</h1>
        <p>Your session has started. If nothing happens, <a href="{{body.url}}">open {{body.name}}</a>.</p>
        {{/main}}
        {{/layout}}
        """

    static let viewer = """
        {{<layout}}
        {{$bodyClass}}viewer{{/bodyClass}}
        {{$main}}
        <div class="viewer-bar" data-session="{{body.sessionID}}" data-csrf="{{chrome.csrf}}"{{#body.active}} data-active{{/body.active}}{{#body.expiresAt}} data-expires="{{iso}}"{{/body.expiresAt}}>
          <h1>{{body.name}}</h1>
          {{#body.active}}{{#body.expiresAt}}<p class="remaining">Ends at <time datetime="{{iso}}" title="{{utc}}">{{utc}}</time></p>{{/body.expiresAt}}
          <form method="post" action="/sessions/{{body.sessionID}}/end" class="inline">
            <input type="hidden" name="csrf" value="{{chrome.csrf}}">
            <button type="submit" class="danger">Stop</button>
          </form>{{/body.active}}
        </div>
        {{#body.active}}{{#body.streamed}}<div id="stream-screen" class="stream-screen" data-session="{{body.sessionID}}" data-csrf="{{chrome.csrf}}" role="application" aria-label="{{body.name}}: remote desktop"></div>
        <p id="stream-status" class="stream-status" role="status" aria-live="polite">This desktop needs JavaScript: it is drawn by noVNC.</p>
        <p class="stream-status"><button type="button" id="stream-reconnect" hidden>Reconnect</button></p>
        <script type="module" src="{{assets.streamViewer}}"></script>{{/body.streamed}}{{^body.streamed}}{{#body.connectable}}<iframe class="workspace-frame" src="{{body.url}}" title="{{body.name}}" allow="clipboard-read; clipboard-write; fullscreen"></iframe>{{/body.connectable}}
        {{^body.connectable}}<section class="card not-connected" role="status"><h2>Nothing to show here yet</h2><p>This workspace has no desktop host to frame: its address, <code>{{body.url}}</code>, is not an http(s) address elsewhere (a path on this portal, which serves no desktop itself). The session stays open while this page is; stop it when you are done.</p><p>An administrator gives the workspace the address of its desktop host (an <code>https://</code> URL) in <a href="/admin/workspaces">Manage workspaces</a>.</p></section>{{/body.connectable}}{{/body.streamed}}{{/body.active}}
        {{^body.active}}<section class="ended card" role="alert"><h2>This session has ended</h2><p>{{body.endedBecause}}</p><p><a class="button" href="/workspaces">Back to workspaces</a></p></section>{{/body.active}}
        {{/main}}
        {{/layout}}
        """

    static let sessions = """
        {{<layout}}
        {{$main}}
        <h1>My sessions</h1>
        {{#body.hasRows}}
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Workspace</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Ends or ended</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
          {{#body.rows}}
          <tr>
            <td>{{workspaceName}}</td>
            <td><span class="pill {{statusClass}}">{{statusLabel}}</span>{{#why}} <span class="muted">{{.}}</span>{{/why}}</td>
            <td><time datetime="{{started.iso}}" title="{{started.utc}}">{{started.relative}}</time></td>
            <td>{{#ends}}<time datetime="{{iso}}" title="{{utc}}">{{relative}}</time>{{/ends}}{{^ends}}—{{/ends}}</td>
            <td>{{#active}}
              {{#viewable}}<a class="button" href="/sessions/{{id}}/view">Resume</a>{{/viewable}}
              <form method="post" action="/sessions/{{id}}/end" class="inline">
                <input type="hidden" name="csrf" value="{{chrome.csrf}}">
                <button type="submit" class="danger">End<span class="visually-hidden"> {{workspaceName}}</span></button>
              </form>
            {{/active}}</td>
          </tr>
          {{/body.rows}}
          </tbody>
        </table></div>
        {{/body.hasRows}}
        {{^body.hasRows}}<p class="empty">You have no sessions yet. <a href="/workspaces">Launch a workspace</a>.</p>{{/body.hasRows}}
        {{/main}}
        {{/layout}}
        """

    static let audit = """
        {{<layout}}
        {{$main}}
        <h1>Audit trail</h1>
        <p class="muted">{{body.scope}}</p>
        <form method="get" action="/audit" class="card filters">
          {{#body.admin}}
          <div><label for="user_id">User id</label><input id="user_id" name="user_id" value="{{body.filters.userID}}"{{#body.problems.user_id}} aria-invalid="true" aria-describedby="user_id-error"{{/body.problems.user_id}}>
          {{#body.problems.user_id}}<p class="field-error" id="user_id-error">{{.}}</p>{{/body.problems.user_id}}</div>
          {{/body.admin}}
          <div><label for="action">Action</label><input id="action" name="action" value="{{body.filters.action}}" aria-describedby="action-help{{#body.problems.action}} action-error{{/body.problems.action}}"{{#body.problems.action}} aria-invalid="true"{{/body.problems.action}}>
          <p class="help" id="action-help">An action name, such as login or launch_workspace.</p>
          {{#body.problems.action}}<p class="field-error" id="action-error">{{.}}</p>{{/body.problems.action}}</div>
          <div><label for="success">Result</label><select id="success" name="success"{{#body.problems.success}} aria-invalid="true" aria-describedby="success-error"{{/body.problems.success}}>
            <option value=""{{#body.filters.anyResult}} selected{{/body.filters.anyResult}}>Any</option>
            <option value="true"{{#body.filters.succeeded}} selected{{/body.filters.succeeded}}>Done</option>
            <option value="false"{{#body.filters.refused}} selected{{/body.filters.refused}}>Refused or failed</option>
          </select>
          {{#body.problems.success}}<p class="field-error" id="success-error">{{.}}</p>{{/body.problems.success}}</div>
          <div><label for="since">From (UTC day)</label><input id="since" name="since" type="date" value="{{body.filters.since}}"{{#body.problems.since}} aria-invalid="true" aria-describedby="since-error"{{/body.problems.since}}>
          {{#body.problems.since}}<p class="field-error" id="since-error">{{.}}</p>{{/body.problems.since}}</div>
          <div><label for="until">To (UTC day, included)</label><input id="until" name="until" type="date" value="{{body.filters.until}}"{{#body.problems.until}} aria-invalid="true" aria-describedby="until-error"{{/body.problems.until}}>
          {{#body.problems.until}}<p class="field-error" id="until-error">{{.}}</p>{{/body.problems.until}}</div>
          <div class="actions"><button type="submit" class="primary">Filter</button> <a class="button" href="/audit">Clear</a></div>
        </form>
        <p class="downloads">Download what the filter selects: <a href="/audit/export?{{body.exportQuery}}format=csv">CSV</a> · <a href="/audit/export?{{body.exportQuery}}format=jsonl">JSON lines</a></p>
        {{#body.hasRows}}
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">Result</th><th scope="col">Address</th><th scope="col">Details</th></tr></thead>
          <tbody>
          {{#body.rows}}<tr>
            <td><time datetime="{{when.iso}}" title="{{when.utc}}">{{when.relative}}</time></td>
            <td>{{who}}</td>
            <td><code>{{action}}</code></td>
            <td>{{resource}}</td>
            <td>{{#success}}<span class="pill ok">✓ done</span>{{/success}}{{^success}}<span class="pill danger">✗ refused</span>{{/success}}</td>
            <td>{{address}}</td>
            <td>{{#details}}<span class="detail">{{key}}={{value}}</span> {{/details}}</td>
          </tr>{{/body.rows}}
          </tbody>
        </table></div>
        {{#body.older}}<p><a class="button" href="/audit?{{.}}">Older entries</a></p>{{/body.older}}
        {{/body.hasRows}}
        {{^body.hasRows}}<p class="empty">No entry matches. <a href="/audit">Clear the filter</a>.</p>{{/body.hasRows}}
        {{/main}}
        {{/layout}}
        """

    static let demo = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>Try NeoSC</h1>
        <p>Get a workspace in your browser at once, for {{body.lifetime}}. No account needed; it ends on its own.</p>
        {{#body.problem}}<p class="error" role="alert" id="demo-problem">{{.}}</p>{{/body.problem}}
        {{#body.hasOffers}}
        <form method="post" action="/demo" class="card form">
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <fieldset>
            <legend>Workspace</legend>
            {{#body.offers}}<div class="choice"><input type="radio" id="type-{{type}}" name="workspace_type" value="{{type}}" checked><label for="type-{{type}}">{{name}}</label><p class="help">{{description}}</p></div>{{/body.offers}}
          </fieldset>
          <label for="email">Your e-mail (optional)</label>
          <input id="email" name="email" type="text" inputmode="email" autocomplete="email" value="{{body.email}}" aria-describedby="email-help">
          <p class="help" id="email-help">Only if you want us to reach you about NeoSC.</p>
          <button type="submit" class="primary">Start my demo</button>
        </form>
        {{/body.hasOffers}}
        {{^body.hasOffers}}<p class="empty">No workspace is offered for demos just now. Try again later.</p>{{/body.hasOffers}}
        {{/main}}
        {{/layout}}
        """

    static let demoSession = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        {{#body.active}}
        <h1>Your demo: {{body.name}}</h1>
        {{#body.expiresAt}}<div class="card" data-expires="{{iso}}"><p class="remaining">Your demo ends at <time datetime="{{iso}}" title="{{utc}}">{{utc}}</time>.</p></div>{{/body.expiresAt}}
        <p><a class="button primary" href="{{body.url}}" target="_blank" rel="noopener">Open {{body.name}}<span class="visually-hidden"> (opens a new tab)</span></a></p>
        <p class="muted">When the time is up the workspace closes and this page says so. Signing out ends the demo at once.</p>
        {{/body.active}}
        {{^body.active}}
        <section class="ended card" role="alert"><h1>Your demo is over</h1><p>{{body.ended}}</p><p><a class="button" href="/demo">Start another</a></p></section>
        {{/body.active}}
        {{/main}}
        {{/layout}}
        """

    /// The workspace form's fields (a partial): each with its label, its value as entered, and its
    /// problem beside it.
    static let workspaceFields = """
        {{% CONTENT_TYPE: PORTAL_HTML}}{{#form.hasProblems}}<p class="error" role="alert">Some fields need attention; each says why beside it (the first one has the focus).</p>{{/form.hasProblems}}
        {{#form.problems.form}}<p class="field-error">{{.}}</p>{{/form.problems.form}}
        <div class="grid-form">
        {{^editing}}<div><label for="f-id">Id</label><input id="f-id" name="id" value="{{form.id}}" aria-describedby="f-id-help{{#form.problems.id}} f-id-error{{/form.problems.id}}"{{#form.problems.id}} aria-invalid="true" autofocus{{/form.problems.id}}>
        <p class="help" id="f-id-help">Lower-case letters, digits and dashes; left empty, one is made.</p>{{#form.problems.id}}<p class="field-error" id="f-id-error">{{.}}</p>{{/form.problems.id}}</div>{{/editing}}
        <div><label for="f-name">Name</label><input id="f-name" name="name" value="{{form.name}}"{{#form.problems.name}} aria-invalid="true" autofocus aria-describedby="f-name-error"{{/form.problems.name}}>{{#form.problems.name}}<p class="field-error" id="f-name-error">{{.}}</p>{{/form.problems.name}}</div>
        <div><label for="f-type">Type</label><input id="f-type" name="type" value="{{form.type}}"{{#form.problems.type}} aria-invalid="true" autofocus aria-describedby="f-type-error"{{/form.problems.type}}>{{#form.problems.type}}<p class="field-error" id="f-type-error">{{.}}</p>{{/form.problems.type}}</div>
        <div class="wide"><label for="f-url">Address</label><input id="f-url" name="url" value="{{form.url}}" aria-describedby="f-url-help{{#form.problems.url}} f-url-error{{/form.problems.url}}"{{#form.problems.url}} aria-invalid="true" autofocus{{/form.problems.url}}>
        <p class="help" id="f-url-help">An http(s) address, or a path on this host.</p>{{#form.problems.url}}<p class="field-error" id="f-url-error">{{.}}</p>{{/form.problems.url}}</div>
        <div class="wide"><label for="f-stream">Stream upstream</label><input id="f-stream" name="stream_upstream" value="{{form.streamUpstream}}" aria-describedby="f-stream-help{{#form.problems.stream_upstream}} f-stream-error{{/form.problems.stream_upstream}}"{{#form.problems.stream_upstream}} aria-invalid="true" autofocus{{/form.problems.stream_upstream}}>
        <p class="help" id="f-stream-help">vnc://host:5901, ws://… or wss://…; empty: no stream through NeoSC.</p>{{#form.problems.stream_upstream}}<p class="field-error" id="f-stream-error">{{.}}</p>{{/form.problems.stream_upstream}}</div>
        <div class="wide"><label for="f-description">Description</label><textarea id="f-description" name="description" rows="3"{{#form.problems.description}} aria-invalid="true" autofocus aria-describedby="f-description-error"{{/form.problems.description}}>{{form.description}}</textarea>{{#form.problems.description}}<p class="field-error" id="f-description-error">{{.}}</p>{{/form.problems.description}}</div>
        <div><label for="f-cpu">CPUs</label><input id="f-cpu" name="cpu" inputmode="numeric" value="{{form.cpu}}"{{#form.problems.cpu}} aria-invalid="true" autofocus aria-describedby="f-cpu-error"{{/form.problems.cpu}}>{{#form.problems.cpu}}<p class="field-error" id="f-cpu-error">{{.}}</p>{{/form.problems.cpu}}</div>
        <div><label for="f-memory">Memory (GiB)</label><input id="f-memory" name="memory" inputmode="numeric" value="{{form.memory}}"{{#form.problems.memory}} aria-invalid="true" autofocus aria-describedby="f-memory-error"{{/form.problems.memory}}>{{#form.problems.memory}}<p class="field-error" id="f-memory-error">{{.}}</p>{{/form.problems.memory}}</div>
        <div><label for="f-storage">Storage (GiB)</label><input id="f-storage" name="storage" inputmode="numeric" value="{{form.storage}}"{{#form.problems.storage}} aria-invalid="true" autofocus aria-describedby="f-storage-error"{{/form.problems.storage}}>{{#form.problems.storage}}<p class="field-error" id="f-storage-error">{{.}}</p>{{/form.problems.storage}}</div>
        <div><label for="f-max">Longest session (minutes)</label><input id="f-max" name="max_session_minutes" inputmode="numeric" value="{{form.maxSessionMinutes}}"{{#form.problems.max_session_minutes}} aria-invalid="true" autofocus aria-describedby="f-max-error"{{/form.problems.max_session_minutes}}>{{#form.problems.max_session_minutes}}<p class="field-error" id="f-max-error">{{.}}</p>{{/form.problems.max_session_minutes}}</div>
        <div><label for="f-status">Status</label><select id="f-status" name="status">{{#form.statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/form.statuses}}</select></div>
        <div><label for="f-launch">Opens</label><select id="f-launch" name="launch_mode">{{#form.launchModes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/form.launchModes}}</select></div>
        <fieldset class="wide"><legend>Roles that may launch it</legend>{{#form.roles}}<span class="choice"><input type="checkbox" id="f-role-{{value}}" name="allowed_roles" value="{{value}}"{{#selected}} checked{{/selected}}><label for="f-role-{{value}}">{{label}}</label></span> {{/form.roles}}</fieldset>
        </div>
        """

    static let adminWorkspaces = """
        {{<layout}}
        {{$main}}
        <h1>Workspaces</h1>
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Opens</th><th scope="col">Roles</th></tr></thead>
          <tbody>{{#body.rows}}<tr><td><a href="/admin/workspaces/{{id}}">{{name}}</a></td><td><code>{{id}}</code></td><td>{{type}}</td><td>{{status}}</td><td>{{launchMode}}</td><td>{{roles}}</td></tr>{{/body.rows}}</tbody>
        </table></div>
        <h2 id="new-title">New workspace</h2>
        <form method="post" action="/admin/workspaces" class="card" aria-labelledby="new-title" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          {{#body}}{{>workspace-fields}}{{/body}}
          <button type="submit" class="primary">Create workspace</button>
        </form>
        {{/main}}
        {{/layout}}
        """

    static let adminWorkspace = """
        {{<layout}}
        {{$main}}
        <p><a href="/admin/workspaces">← All workspaces</a></p>
        <h1>{{body.name}} <code>{{body.id}}</code></h1>
        {{#body.confirmDelete}}
        <section class="card danger-zone" role="alert" aria-labelledby="confirm-title">
          <h2 id="confirm-title">Delete {{body.name}}?</h2>
          <p>This cannot be undone. {{body.activeSessions}} active session(s) on it end now.</p>
          <form method="post" action="/admin/workspaces/{{body.id}}/delete" class="inline">
            <input type="hidden" name="csrf" value="{{chrome.csrf}}"><input type="hidden" name="confirm" value="yes">
            <button type="submit" class="danger">Yes, delete it</button>
          </form>
          <a class="button" href="/admin/workspaces/{{body.id}}">Keep it</a>
        </section>
        {{/body.confirmDelete}}
        <form method="post" action="/admin/workspaces/{{body.id}}" class="card" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          {{#body}}{{>workspace-fields}}{{/body}}
          <button type="submit" class="primary">Save</button>
        </form>
        {{^body.confirmDelete}}
        <form method="post" action="/admin/workspaces/{{body.id}}/delete">
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <button type="submit" class="danger">Delete…</button>
        </form>
        {{/body.confirmDelete}}
        {{/main}}
        {{/layout}}
        """

    static let adminUsers = """
        {{<layout}}
        {{$main}}
        <h1>Users</h1>
        <p class="muted">One active administrator always remains: NeoSC refuses the change that would leave none.</p>
        <form method="get" action="/admin/users" class="card filters" role="search">
          <div><label for="search">E-mail or name contains</label><input id="search" name="search" type="search" maxlength="254" value="{{body.search}}"></div>
          <div class="actions"><button type="submit" class="primary">Search</button> <a class="button" href="/admin/users">Clear</a></div>
        </form>
        {{^body.hasRows}}<p>No account matches.</p>{{/body.hasRows}}
        {{#body.hasRows}}<div class="table-wrap"><table>
          <thead><tr><th scope="col">E-mail</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">MFA</th><th scope="col">Account</th><th scope="col">Created</th></tr></thead>
          <tbody>
          {{#body.rows}}<tr>
            <td>{{email}}</td><td>{{name}}</td>
            <td>{{#fixedRole}}{{.}}{{/fixedRole}}{{^fixedRole}}<form method="post" action="/admin/users/{{id}}" class="inline"><input type="hidden" name="csrf" value="{{chrome.csrf}}">
              <select id="role-{{id}}" name="role" aria-label="Role of {{email}}">{{#roles}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/roles}}</select>
              <button type="submit">Save<span class="visually-hidden"> the role of {{email}}</span></button></form>{{/fixedRole}}</td>
            <td>{{#mfa}}<span class="pill ok">on</span>{{/mfa}}{{^mfa}}<span class="pill">off</span>{{/mfa}}</td>
            <td><form method="post" action="/admin/users/{{id}}" class="inline"><input type="hidden" name="csrf" value="{{chrome.csrf}}">
              {{#disabled}}<span class="pill danger">disabled</span> <input type="hidden" name="disabled" value="false"><button type="submit">Enable<span class="visually-hidden"> {{email}}</span></button>{{/disabled}}
              {{^disabled}}<input type="hidden" name="disabled" value="true"><button type="submit" class="danger">Disable<span class="visually-hidden"> {{email}}</span></button>{{/disabled}}
            </form></td>
            <td><time datetime="{{created.iso}}" title="{{created.utc}}">{{created.relative}}</time></td>
          </tr>{{/body.rows}}
          </tbody>
        </table></div>{{/body.hasRows}}
        <p>{{#body.newer}}<a class="button" href="/admin/users?{{body.searchQuery}}offset={{.}}">Previous</a> {{/body.newer}}{{#body.older}}<a class="button" href="/admin/users?{{body.searchQuery}}offset={{.}}">Next</a>{{/body.older}}</p>
        {{/main}}
        {{/layout}}
        """

    static let adminOrganizations = """
        {{<layout}}
        {{$main}}
        <h1>Organisations</h1>
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Name</th><th scope="col">E-mail domain</th><th scope="col">Created</th></tr></thead>
          <tbody>{{#body.rows}}<tr><td>{{name}}</td><td>{{domain}}</td><td><time datetime="{{created.iso}}" title="{{created.utc}}">{{created.relative}}</time></td></tr>{{/body.rows}}</tbody>
        </table></div>
        <h2 id="new-organization">New organisation</h2>
        <form method="post" action="/admin/organizations" class="card" aria-labelledby="new-organization" novalidate>
          <input type="hidden" name="csrf" value="{{chrome.csrf}}">
          <div class="grid-form">
            <div><label for="o-name">Name</label><input id="o-name" name="name" value="{{body.name}}"{{#body.problems.name}} aria-invalid="true" aria-describedby="o-name-error" autofocus{{/body.problems.name}}>{{#body.problems.name}}<p class="field-error" id="o-name-error">{{.}}</p>{{/body.problems.name}}</div>
            <div><label for="o-domain">E-mail domain (optional)</label><input id="o-domain" name="domain" value="{{body.domain}}" aria-describedby="o-domain-help{{#body.problems.domain}} o-domain-error{{/body.problems.domain}}"{{#body.problems.domain}} aria-invalid="true" autofocus{{/body.problems.domain}}>
            <p class="help" id="o-domain-help">The e-mail domain of its people, such as example.com.</p>{{#body.problems.domain}}<p class="field-error" id="o-domain-error">{{.}}</p>{{/body.problems.domain}}</div>
          </div>
          <button type="submit" class="primary">Create organisation</button>
        </form>
        {{/main}}
        {{/layout}}
        """

    static let adminDemos = """
        {{<layout}}
        {{$main}}
        <h1>Demo sessions</h1>
        {{#body.hasRows}}
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Demo</th><th scope="col">Workspace</th><th scope="col">Contact</th><th scope="col">Address</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Ends or ended</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
          {{#body.rows}}<tr>
            <td><code>{{id}}</code></td><td>{{workspace}}</td><td>{{contact}}</td><td>{{address}}</td>
            <td>{{#active}}<span class="pill ok">active</span>{{/active}}{{^active}}<span class="pill">{{status}}</span>{{/active}}</td>
            <td><time datetime="{{started.iso}}" title="{{started.utc}}">{{started.relative}}</time></td>
            <td><time datetime="{{ends.iso}}" title="{{ends.utc}}">{{ends.relative}}</time></td>
            <td>{{#active}}
              <form method="post" action="/admin/demos/{{id}}/extend" class="inline"><input type="hidden" name="csrf" value="{{chrome.csrf}}">
                <label for="minutes-{{id}}" class="visually-hidden">Minutes to add to {{id}}</label><input id="minutes-{{id}}" name="minutes" inputmode="numeric" value="15" size="4">
                <button type="submit">Extend</button></form>
              <form method="post" action="/admin/demos/{{id}}/end" class="inline"><input type="hidden" name="csrf" value="{{chrome.csrf}}">
                <button type="submit" class="danger">End<span class="visually-hidden"> {{id}}</span></button></form>
            {{/active}}</td>
          </tr>{{/body.rows}}
          </tbody>
        </table></div>
        {{/body.hasRows}}
        {{^body.hasRows}}<p class="empty">No demo sessions yet.</p>{{/body.hasRows}}
        {{/main}}
        {{/layout}}
        """

    static let adminPolicies = """
        {{<layout}}
        {{$main}}
        <h1>Policies</h1>
        <p>Security score now: <strong>{{body.score}}</strong> of 100. Each switch below says what the score would become.</p>
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Policy</th><th scope="col">Kind</th><th scope="col">Applies to</th><th scope="col">State</th><th scope="col" class="number">Weight</th><th scope="col">Switch</th></tr></thead>
          <tbody>
          {{#body.rows}}<tr>
            <td>{{name}}<br><code>{{id}}</code></td><td><code>{{kind}}</code></td><td>{{scope}}</td>
            <td>{{#enabled}}<span class="pill ok">On</span>{{/enabled}}{{^enabled}}<span class="pill">Off</span>{{/enabled}}</td>
            <td class="number">{{weight}}</td>
            <td><form method="post" action="/admin/policies/{{id}}/toggle" class="inline"><input type="hidden" name="csrf" value="{{chrome.csrf}}">
              <input type="hidden" name="enabled" value="{{#enabled}}false{{/enabled}}{{^enabled}}true{{/enabled}}">
              <button type="submit">{{#enabled}}Switch off{{/enabled}}{{^enabled}}Switch on{{/enabled}}<span class="visually-hidden"> {{name}}</span></button></form>
              <span class="muted">score {{scoreIfToggled}}</span></td>
          </tr>{{/body.rows}}
          </tbody>
        </table></div>
        {{/main}}
        {{/layout}}
        """

    static let problem = """
        {{<layout}}
        {{$bodyClass}}page narrow{{/bodyClass}}
        {{$main}}
        <h1>{{body.heading}}</h1>
        <p>{{body.message}}</p>
        <p><a class="button" href="{{body.next}}">{{body.nextLabel}}</a></p>
        {{/main}}
        {{/layout}}
        """
}
