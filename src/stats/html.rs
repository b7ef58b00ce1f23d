//! The HTML statistics page, laid out as HAProxy 1.4 lays it out: the same style sheet, title,
//! heading, process block, colour legend, display options, result banner of a `stats admin`
//! action, then one table per proxy (configuration order, `stats scope` filter) with the
//! column groups Queue / Session rate / Sessions / Bytes / Denied / Errors / Warnings / Server
//! and the rows Frontend, servers, Backend; row classes (`active0`..`active6`,
//! `backup0`..`backup6`, `maintain`) colour servers by state.
//!
//! Keywords: `stats hide-version`, `stats show-node`, `stats show-desc`, `stats
//! show-legends`, `stats scope`, `stats refresh`, `stats admin`. Compare with 1.4
//! `src/dumpstats.c` `stats_dump_http` and the HTML branch of `stats_dump_proxy`.
//!
//! Numbers go through [`super::u2h`] (1.4's digit grouping); every value comes from
//! [`super::row`], the same rows the CSV prints.

use super::info::ProcessInfo;
use super::row::{self, col, Row};
use super::{html_escape as esc, human_time, lim, u2h, PRODUCT_NAME};
use crate::check::{self, DisplayState};
use crate::runtime::{Proxy, Runtime, Server};
use parser::ir::{Balance, ProxyKind};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// What the page shows, from the stats configuration and the request flags.
#[derive(Clone, Debug, Default)]
pub struct PageOpts {
    /// The `stats uri` prefix (links, form action).
    pub uri: String,
    /// `stats refresh` seconds.
    pub refresh: Option<u32>,
    /// `;up`: hide DOWN and MAINT servers.
    pub hide_down: bool,
    /// `;norefresh`.
    pub no_refresh: bool,
    /// `stats admin` matched: checkboxes and the action form.
    pub admin: bool,
    /// `;st=<CODE>`: the result banner of a previous admin action.
    pub st_code: Option<String>,
    /// `stats hide-version`.
    pub hide_version: bool,
    /// `stats show-node`: the node name to print.
    pub node: Option<String>,
    /// `stats show-desc`: the description to print.
    pub desc: Option<String>,
    /// `stats show-legends`.
    pub legends: bool,
}

/// The style sheet and title (1.4 `DATA_ST_HEAD`).
fn write_head(o: &PageOpts, out: &mut String) {
    let on_node = match &o.node {
        Some(n) => format!(" on {}", esc(n)),
        None => String::new(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n\
         \"http://www.w3.org/TR/html4/loose.dtd\">\n\
         <html><head><title>Statistics Report for {PRODUCT_NAME}{on_node}</title>\n\
         <meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n\
         <style type=\"text/css\"><!--\n"
    );
    out.push_str(STYLE);
    out.push_str("-->\n</style></head>\n");
}

/// The page's style sheet: the classes the rows use, with 1.4's colours.
const STYLE: &str = "body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}\n\
th,td { font-size: 10px;}\n\
h1 { font-size: x-large; margin-bottom: 0.5em;}\n\
h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}\n\
h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}\n\
li { margin-top: 0.25em; margin-right: 2em;}\n\
.hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}\n\
.titre\t{background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}\n\
.total\t{background: #20D0D0;color: #ffff80;}\n\
.frontend\t{background: #e8e8d0;}\n\
.socket\t{background: #d0d0d0;}\n\
.backend\t{background: #e8e8d0;}\n\
.active0\t{background: #ff9090;}\n\
.active1\t{background: #ffd020;}\n\
.active2\t{background: #ffffa0;}\n\
.active3\t{background: #c0ffc0;}\n\
.active4\t{background: #ffffa0;}\n\
.active5\t{background: #a0e0a0;}\n\
.active6\t{background: #e0e0e0;}\n\
.backup0\t{background: #ff9090;}\n\
.backup1\t{background: #ff80ff;}\n\
.backup2\t{background: #c060ff;}\n\
.backup3\t{background: #b0d0ff;}\n\
.backup4\t{background: #c060ff;}\n\
.backup5\t{background: #90b0e0;}\n\
.backup6\t{background: #e0e0e0;}\n\
.maintain\t{background: #c07820;}\n\
.rls      {letter-spacing: 0.2em; margin-right: 1px;}\n\
\n\
a.px:link {color: #ffff40; text-decoration: none;}a.px:visited {color: #ffff40; text-decoration: none;}a.px:hover {color: #ffffff; text-decoration: none;}a.lfsb:link {color: #000000; text-decoration: none;}a.lfsb:visited {color: #000000; text-decoration: none;}a.lfsb:hover {color: #505050; text-decoration: none;}\n\
table.tbl { border-collapse: collapse; border-style: none;}\n\
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}\n\
table.tbl td.ac { text-align: center;}\n\
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}\n\
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}\n\
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}\n\
table.tbl th.desc { background: white; border-style: solid solid none solid; text-align: left; padding: 2px 3px;}\n\
\n\
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}\n\
table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}\n\
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap;}\n\
u {text-decoration:none; border-bottom: 1px dotted black;}\n";

/// Heading, process information, legend, display options and the action banner (1.4
/// `DATA_ST_INFO`).
fn write_info(rt: &Runtime, o: &PageOpts, out: &mut String) {
    let p = ProcessInfo::collect(rt);
    let up = p.uptime_s;
    let version = if o.hide_version {
        String::new()
    } else {
        format!(
            " version {}, released {}",
            super::version(),
            crate::cli::RELEASE_DATE
        )
    };
    let on_node = o
        .node
        .as_ref()
        .map(|n| format!(" on {}", esc(n)))
        .unwrap_or_default();
    let desc = o
        .desc
        .as_ref()
        .map(|d| format!(": {}", esc(d)))
        .unwrap_or_default();
    let memmax = if p.memmax_mb > 0 {
        format!("{} MB", p.memmax_mb)
    } else {
        "unlimited".to_string()
    };
    let _ = write!(
        out,
        "<body><h1><a href=\"{url}\" style=\"text-decoration: none;\">{PRODUCT_NAME}{version}</a></h1>\n\
         <h2>Statistics Report for pid {pid}{on_node}{desc}</h2>\n\
         <hr width=\"100%\" class=\"hr\">\n\
         <h3>&gt; General process information</h3>\n\
         <table border=0><tr><td align=\"left\" nowrap width=\"1%\">\n\
         <p><b>pid = </b> {pid} (process #{num}, nbproc = {nbproc})<br>\n\
         <b>uptime = </b> {d}d {h}h{m:02}m{s:02}s<br>\n\
         <b>system limits:</b> memmax = {memmax}; ulimit-n = {ulimit}<br>\n\
         <b>maxsock = </b> {maxsock}; <b>maxconn = </b> {maxconn}; <b>maxpipes = </b> {maxpipes}<br>\n\
         current conns = {cur}; current pipes = {pu}/{pt}<br>\n\
         Running tasks: {rq}/{tasks}<br>\n\
         </td><td align=\"center\" nowrap>\n\
         <table class=\"lgd\"><tr>\n\
         <td class=\"active3\">&nbsp;</td><td class=\"noborder\">active UP </td>\
         <td class=\"backup3\">&nbsp;</td><td class=\"noborder\">backup UP </td>\
         </tr><tr>\n\
         <td class=\"active2\"></td><td class=\"noborder\">active UP, going down </td>\
         <td class=\"backup2\"></td><td class=\"noborder\">backup UP, going down </td>\
         </tr><tr>\n\
         <td class=\"active1\"></td><td class=\"noborder\">active DOWN, going up </td>\
         <td class=\"backup1\"></td><td class=\"noborder\">backup DOWN, going up </td>\
         </tr><tr>\n\
         <td class=\"active0\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td>\
         <td class=\"active6\"></td><td class=\"noborder\">not checked </td>\
         </tr><tr>\n\
         <td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td>\
         </tr></table>\n\
         Note: UP with load-balancing disabled is reported as \"NOLB\".\
         </td>\
         <td align=\"left\" valign=\"top\" nowrap width=\"1%\">\
         <b>Display option:</b><ul style=\"margin-top: 0.25em;\">",
        url = super::PRODUCT_URL,
        pid = p.pid,
        num = p.process_num,
        nbproc = p.nbproc,
        d = up / 86400,
        h = (up % 86400) / 3600,
        m = (up % 3600) / 60,
        s = up % 60,
        ulimit = p.ulimit_n,
        maxsock = p.maxsock,
        maxconn = p.maxconn,
        maxpipes = p.maxpipes,
        cur = p.curr_conns,
        pu = p.pipes_used,
        pt = p.pipes_used + p.pipes_free,
        rq = p.run_queue,
        tasks = p.tasks,
    );
    let uri = esc(&o.uri);
    let up_flag = if o.hide_down { ";up" } else { "" };
    let norefresh = if o.no_refresh { ";norefresh" } else { "" };
    if o.hide_down {
        let _ = writeln!(
            out,
            "<li><a href=\"{uri}{norefresh}\">Show all servers</a><br>"
        );
    } else {
        let _ = writeln!(
            out,
            "<li><a href=\"{uri};up{norefresh}\">Hide 'DOWN' servers</a><br>"
        );
    }
    if o.refresh.is_some_and(|r| r > 0) {
        if o.no_refresh {
            let _ = writeln!(out, "<li><a href=\"{uri}{up_flag}\">Enable refresh</a><br>");
        } else {
            let _ = writeln!(
                out,
                "<li><a href=\"{uri}{up_flag};norefresh\">Disable refresh</a><br>"
            );
        }
    }
    let _ = writeln!(
        out,
        "<li><a href=\"{uri}{up_flag}{norefresh}\">Refresh now</a><br>"
    );
    let csv_norefresh = if o.refresh.is_some_and(|r| r > 0) {
        ";norefresh"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<li><a href=\"{uri};csv{csv_norefresh}\">CSV export</a><br>"
    );
    let _ = writeln!(
        out,
        "</ul></td><td align=\"left\" valign=\"top\" nowrap width=\"1%\">\
         <b>External resources:</b><ul style=\"margin-top: 0.25em;\">\n\
         <li><a href=\"{url}\">Primary site</a><br>\n\
         <li><a href=\"{upd}\">Updates (v{branch})</a><br>\n\
         <li><a href=\"{doc}\">Online manual</a><br>\n\
         </ul></td></tr></table>",
        url = super::PRODUCT_URL,
        upd = super::PRODUCT_URL_UPD,
        doc = super::PRODUCT_URL_DOC,
        branch = super::PRODUCT_BRANCH,
    );
    if let Some(code) = &o.st_code {
        let (class, text) = match code.as_str() {
            "DONE" => ("active3", "Action processed successfully."),
            "NONE" => ("active2", "Nothing has changed."),
            "PART" => (
                "active2",
                "Action partially processed.<br>Some server names are probably unknown or ambiguous (duplicated names in the backend).",
            ),
            "ERRP" => (
                "active0",
                "Action not processed because of invalid parameters.<ul><li>The action is maybe unknown.</li><li>The backend name is probably unknown or ambiguous (duplicated names).</li><li>Some server names are probably unknown or ambiguous (duplicated names in the backend).</li></ul>",
            ),
            "EXCD" => (
                "active0",
                "<b>Action not processed : the buffer couldn't store all the data.<br>You should retry with less servers at a time.</b>",
            ),
            "DENY" => ("active0", "<b>Action denied.</b>"),
            _ => ("active6", "Unexpected result."),
        };
        let _ = writeln!(
            out,
            "<p><div class={class}><a class=lfsb href=\"{uri}\" title=\"Remove this message\">[X]</a> {text}</div>"
        );
        out.push_str("<p>\n");
    }
}

/// 1.4's `backend_lb_algo_str` for the legends.
fn lb_algo(b: &Balance) -> &'static str {
    match b {
        Balance::RoundRobin => "roundrobin",
        Balance::StaticRr => "static-rr",
        Balance::LeastConn => "leastconn",
        Balance::Source => "source",
        Balance::Uri { .. } => "uri",
        Balance::UrlParam { .. } => "url_param",
        Balance::Hdr { .. } => "hdr",
        Balance::RdpCookie { .. } => "rdp-cookie",
    }
}

fn cap_str(k: ProxyKind) -> &'static str {
    match k {
        ProxyKind::Frontend => "frontend",
        ProxyKind::Backend => "backend",
        ProxyKind::Listen => "proxy",
    }
}

fn mode_str(px: &Proxy) -> &'static str {
    match px.cfg.mode.node {
        parser::ir::Mode::Tcp => "tcp",
        parser::ir::Mode::Http => "http",
        parser::ir::Mode::Health => "health",
    }
}

/// The ` title="1xx=.., 2xx=.., ..."` attribute of the Total cell: `sep` is `,` for
/// frontends and servers and nothing for backends, as 1.4 prints it.
fn rsp_title(r: &Row, sep: &str, out: &mut String) {
    for i in 0..5 {
        let _ = write!(out, " {}xx={}{sep}", i + 1, r.n(col::HRSP_1XX + i));
    }
    let _ = write!(out, " other={}\"", r.n(col::HRSP_OTHER));
}

/// One proxy's table (1.4 `stats_dump_proxy`, HTML branch).
pub fn write_proxy(rt: &Runtime, px: &Proxy, o: &PageOpts, out: &mut String) {
    let admin = o.admin && px.cfg.kind.has_be() && !px.servers.is_empty();
    let name = esc(px.name());
    let http = px.is_http();
    let (u_open, u_close) = if o.legends { ("<u>", "</u>") } else { ("", "") };
    if admin {
        let _ = write!(out, "<form action=\"{}\" method=\"post\">", esc(&o.uri));
    }
    out.push_str("<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\"");
    if o.legends {
        let _ = write!(
            out,
            " title=\"cap: {}, mode: {}, id: {}\"",
            cap_str(px.cfg.kind),
            mode_str(px),
            px.uuid
        );
    }
    let desc = px.cfg.description.as_ref().map(|d| esc(&d.node));
    let _ = write!(
        out,
        ">{u_open}<a name=\"{name}\"></a><a class=px href=\"#{name}\">{name}</a>{u_close}</th>\
         <th class=\"{}\" width=\"90%\">{}</th></tr>\n</table>\n\
         <table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\">",
        if desc.is_some() { "desc" } else { "empty" },
        desc.as_deref().unwrap_or(""),
    );
    if admin {
        out.push_str("<th rowspan=2 width=1></th>");
    }
    out.push_str(
        "<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th>\
         <th colspan=5>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th>\
         <th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n\
         <tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th>\
         <th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th>\
         <th>Limit</th><th>Total</th><th>LbTot</th><th>In</th><th>Out</th>\
         <th>Req</th><th>Resp</th><th>Req</th><th>Conn</th>\
         <th>Resp</th><th>Retr</th><th>Redis</th>\
         <th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th>\
         <th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th>\n</tr>",
    );
    let now_s = u64::from(crate::counters::now_sec());
    for r in row::proxy_rows(rt, px, None, o.hide_down) {
        match r.kind {
            row::RowKind::Frontend => write_frontend(px, &r, admin, http, out),
            row::RowKind::Server => {
                if let Some(s) = r.server.and_then(|i| px.servers.get(i)) {
                    write_server(rt, px, s, &r, admin, o.legends, now_s, out);
                }
            }
            row::RowKind::Backend => write_backend(px, &r, admin, o.legends, now_s, out),
            row::RowKind::Socket => {}
        }
    }
    out.push_str("</table>");
    if admin {
        let _ = write!(
            out,
            "Choose the action to perform on the checked servers : <select name=action>\
             <option value=\"\"></option><option value=\"disable\">Disable</option>\
             <option value=\"enable\">Enable</option><option value=\"stop\">Soft Stop</option>\
             <option value=\"start\">Soft Start</option></select>\
             <input type=\"hidden\" name=\"b\" value=\"#{}\">&nbsp;\
             <input type=\"submit\" value=\"Apply\"></form>",
            px.uuid
        );
    }
    out.push_str("<p>\n");
}

fn write_frontend(px: &Proxy, r: &Row, admin: bool, http: bool, out: &mut String) {
    let name = esc(px.name());
    out.push_str("<tr class=\"frontend\">");
    if admin {
        out.push_str("<td></td>");
    }
    let _ = write!(
        out,
        "<td class=ac><a name=\"{name}/Frontend\"></a><a class=lfsb href=\"#{name}/Frontend\">Frontend</a></td><td colspan=3></td>"
    );
    if http {
        let _ = write!(
            out,
            "<td title=\"Cur: {} req/s\"><u>{}</u></td><td title=\"Max: {} req/s\"><u>{}</u></td><td>{}</td>",
            r.n(col::REQ_RATE),
            u2h(r.n(col::RATE)),
            r.n(col::REQ_RATE_MAX),
            u2h(r.n(col::RATE_MAX)),
            lim(r.n(col::RATE_LIM), "-"),
        );
    } else {
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td><td>{}</td>",
            u2h(r.n(col::RATE)),
            u2h(r.n(col::RATE_MAX)),
            lim(r.n(col::RATE_LIM), "-"),
        );
    }
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td>{}</td><td",
        u2h(r.n(col::SCUR)),
        u2h(r.n(col::SMAX)),
        u2h(r.n(col::SLIM)),
    );
    if http {
        let _ = write!(out, " title=\"{} requests:", r.n(col::REQ_TOT));
        rsp_title(r, ",", out);
    }
    let (uo, uc) = if http { ("<u>", "</u>") } else { ("", "") };
    let _ = write!(
        out,
        ">{uo}{}{uc}</td><td></td><td>{}</td><td>{}</td>",
        u2h(r.n(col::STOT)),
        u2h(r.n(col::BIN)),
        u2h(r.n(col::BOUT)),
    );
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td></td><td></td>\
         <td class=ac>{}</td><td class=ac colspan=8></td></tr>",
        u2h(r.n(col::DREQ)),
        u2h(r.n(col::DRESP)),
        u2h(r.n(col::EREQ)),
        r.t(col::STATUS),
    );
}

#[allow(clippy::too_many_arguments)]
fn write_server(
    rt: &Runtime,
    px: &Proxy,
    s: &Server,
    r: &Row,
    admin: bool,
    legends: bool,
    now_s: u64,
    out: &mut String,
) {
    let pxn = esc(px.name());
    let svn = esc(&s.cfg.name);
    let state = check::display_state(rt, s);
    // The server whose health is shown: the tracked one, if any.
    let svs: &Server = s
        .check
        .tracked()
        .and_then(|t| rt.proxies.get(t.proxy)?.servers.get(t.server))
        .unwrap_or(s);
    match state.sv_state() {
        None => out.push_str("<tr class=\"maintain\">"),
        Some(n) => {
            let kind = if s.cfg.backup { "backup" } else { "active" };
            let _ = write!(out, "<tr class=\"{kind}{n}\">");
        }
    }
    if admin {
        let _ = write!(
            out,
            "<td><input type=\"checkbox\" name=\"s\" value=\"{svn}\"></td>"
        );
    }
    out.push_str("<td class=ac");
    let (u_open, u_close) = if legends { ("<u>", "</u>") } else { ("", "") };
    if legends {
        let addr = match s.addr {
            Some(a) => a.to_string(),
            None => s.cfg.addr.text.clone(),
        };
        let _ = write!(out, " title=\"IP: {}, id: {}", esc(&addr), s.puid);
        if let Some(c) = &s.cfg.cookie {
            let _ = write!(out, ", cookie: '{}'", esc(c));
        }
        out.push('"');
    }
    let _ = write!(
        out,
        ">{u_open}<a name=\"{pxn}/{svn}\"></a><a class=lfsb href=\"#{pxn}/{svn}\">{svn}</a>{u_close}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td>\
         <td>{}</td><td>{}</td><td>{}</td><td",
        u2h(r.n(col::QCUR)),
        u2h(r.n(col::QMAX)),
        lim(u64::from(s.cfg.maxqueue), "-"),
        u2h(r.n(col::RATE)),
        u2h(r.n(col::RATE_MAX)),
        u2h(r.n(col::SCUR)),
        u2h(r.n(col::SMAX)),
        lim(u64::from(s.cfg.maxconn), "-"),
    );
    let http = px.is_http();
    if http {
        out.push_str(" title=\"rsp codes:");
        rsp_title(r, ",", out);
    }
    let (uo, uc) = if http { ("<u>", "</u>") } else { ("", "") };
    let _ = write!(
        out,
        ">{uo}{}{uc}</td><td>{}</td>",
        u2h(r.n(col::STOT)),
        u2h(r.n(col::LBTOT))
    );
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td></td><td>{}</td><td></td><td>{}</td>\
         <td title=\"Connection resets during transfers: {} client, {} server\"><u>{}</u></td>\
         <td>{}</td><td>{}</td>",
        u2h(r.n(col::BIN)),
        u2h(r.n(col::BOUT)),
        u2h(r.n(col::DRESP)),
        u2h(r.n(col::ECON)),
        r.n(col::CLI_ABRT),
        r.n(col::SRV_ABRT),
        u2h(r.n(col::ERESP)),
        r.n(col::WRETR),
        r.n(col::WREDIS),
    );
    // Status cell: age of the last change of the server whose state is shown, then state.
    out.push_str("<td class=ac>");
    let age = |x: &Server| human_time(now_s.saturating_sub(x.counters.last_change.load(Relaxed)));
    match state {
        DisplayState::Maint => {
            let _ = write!(out, "{} MAINT", age(s));
        }
        DisplayState::MaintVia => {
            let _ = write!(out, "{} MAINT(via)", age(svs));
        }
        DisplayState::NoCheck => {}
        other => {
            let _ = write!(out, "{} {}", age(svs), other.html_text());
        }
    }
    // LastChk cell.
    match s.check.snapshot() {
        Some(snap) => {
            let _ = write!(
                out,
                "</td><td class=ac title=\"{}",
                snap.status.description()
            );
            if !snap.info.is_empty() {
                let _ = write!(out, ": {}", esc(&String::from_utf8_lossy(&snap.info)));
            }
            let _ = write!(
                out,
                "\"><u> {}{}",
                if snap.in_progress { "* " } else { "" },
                snap.status_name()
            );
            if let Some(code) = snap.csv_code() {
                let _ = write!(out, "/{code}");
            }
            if snap.csv_duration().is_some() && snap.duration_ms >= 0 {
                let _ = write!(out, " in {}ms</u>", snap.duration_ms);
            }
        }
        None => out.push_str("</td><td>"),
    }
    let _ = write!(
        out,
        "</td><td class=ac>{}</td><td class=ac>{}</td><td class=ac>{}</td>",
        r.n(col::WEIGHT),
        if s.cfg.backup { "-" } else { "Y" },
        if s.cfg.backup { "Y" } else { "-" },
    );
    if s.check.is_checked() {
        let observe = svs.cfg.observe.is_some();
        let _ = write!(
            out,
            "<td title=\"Failed Health Checks{}\"><u>{}",
            if observe { "/Health Analyses" } else { "" },
            svs.counters.chkfail.load(Relaxed)
        );
        if observe {
            let _ = write!(out, "/{}", svs.counters.hanafail.load(Relaxed));
        }
        let _ = write!(
            out,
            "</u></td><td>{}</td><td>{}</td>",
            svs.counters.chkdown.load(Relaxed),
            human_time(r.n(col::DOWNTIME))
        );
    } else if !std::ptr::eq(svs, s) {
        let tp = s
            .check
            .tracked()
            .and_then(|t| rt.proxies.get(t.proxy))
            .map(|p| esc(p.name()))
            .unwrap_or_default();
        let ts = esc(&svs.cfg.name);
        let _ = write!(
            out,
            "<td class=ac colspan=3><a class=lfsb href=\"#{tp}/{ts}\">via {tp}/{ts}<a></td>"
        );
    } else {
        out.push_str("<td colspan=3></td>");
    }
    match r.vals.get(col::THROTTLE).and_then(|v| v.num()) {
        Some(t) => {
            let _ = writeln!(out, "<td class=ac>{t} %</td></tr>");
        }
        None => out.push_str("<td class=ac>-</td></tr>\n"),
    }
}

fn write_backend(px: &Proxy, r: &Row, admin: bool, legends: bool, now_s: u64, out: &mut String) {
    let name = esc(px.name());
    out.push_str("<tr class=\"backend\">");
    if admin {
        out.push_str("<td></td>");
    }
    out.push_str("<td class=ac");
    let (u_open, u_close) = if legends { ("<u>", "</u>") } else { ("", "") };
    if legends {
        let _ = write!(out, " title=\"balancing: {}", lb_algo(&px.cfg.balance.node));
        if let Some(c) = &px.cfg.cookie {
            let _ = write!(out, ", cookie: '{}'", esc(&c.node.name));
        }
        out.push('"');
    }
    let _ = write!(
        out,
        ">{u_open}<a name=\"{name}/Backend\"></a><a class=lfsb href=\"#{name}/Backend\">Backend</a>{u_close}</td>\
         <td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td></td>\
         <td>{}</td><td>{}</td><td>{}</td><td",
        u2h(r.n(col::QCUR)),
        u2h(r.n(col::QMAX)),
        u2h(r.n(col::RATE)),
        u2h(r.n(col::RATE_MAX)),
        u2h(r.n(col::SCUR)),
        u2h(r.n(col::SMAX)),
        u2h(r.n(col::SLIM)),
    );
    let http = px.is_http();
    if http {
        out.push_str(" title=\"rsp codes:");
        rsp_title(r, "", out);
    }
    let (uo, uc) = if http { ("<u>", "</u>") } else { ("", "") };
    let status = if r.t(col::STATUS) == "UP" {
        "UP"
    } else {
        "<font color=\"red\"><b>DOWN</b></font>"
    };
    let _ = write!(
        out,
        ">{uo}{}{uc}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td></td><td>{}</td>\
         <td title=\"Connection resets during transfers: {} client, {} server\"><u>{}</u></td>\
         <td>{}</td><td>{}</td>\
         <td class=ac>{} {status}</td><td class=ac>&nbsp;</td><td class=ac>{}</td>\
         <td class=ac>{}</td><td class=ac>{}</td>\
         <td class=ac>&nbsp;</td><td>{}</td><td>{}</td><td></td></tr>",
        u2h(r.n(col::STOT)),
        u2h(r.n(col::LBTOT)),
        u2h(r.n(col::BIN)),
        u2h(r.n(col::BOUT)),
        u2h(r.n(col::DREQ)),
        u2h(r.n(col::DRESP)),
        u2h(r.n(col::ECON)),
        r.n(col::CLI_ABRT),
        r.n(col::SRV_ABRT),
        u2h(r.n(col::ERESP)),
        r.n(col::WRETR),
        r.n(col::WREDIS),
        human_time(now_s.saturating_sub(px.be_counters.last_change.load(Relaxed))),
        r.n(col::WEIGHT),
        r.n(col::ACT),
        r.n(col::BCK),
        r.n(col::CHKDOWN),
        if px.servers.is_empty() {
            "&nbsp;".to_string()
        } else {
            human_time(r.n(col::DOWNTIME))
        },
    );
}

/// The whole page: head, process block, one table per listed proxy accepted by `scope`.
pub fn write_page(rt: &Runtime, o: &PageOpts, scope: &dyn Fn(&Proxy) -> bool, out: &mut String) {
    write_head(o, out);
    write_info(rt, o, out);
    for px in &rt.proxies {
        if super::is_listed(px) && scope(px) {
            write_proxy(rt, px, o, out);
        }
    }
    out.push_str("</body></html>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::{backend, runtime, server};

    #[test]
    fn page_has_one_table_per_proxy_and_rows() {
        let mut b = backend("app", vec![server("s1", 2, 3), server("s2", 2, 3)]);
        b.kind = ProxyKind::Listen;
        b.mode = crate::check::test_support::sp(parser::ir::Mode::Http);
        let rt = runtime(vec![b, backend("other", vec![server("t", 1, 1)])]);
        rt.proxies[0].servers[1]
            .maint
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let o = PageOpts {
            uri: "/st".into(),
            refresh: Some(5),
            admin: true,
            st_code: Some("DONE".into()),
            ..Default::default()
        };
        let mut out = String::new();
        write_page(&rt, &o, &|_| true, &mut out);
        assert!(out.starts_with("<!DOCTYPE HTML PUBLIC"));
        assert!(out.contains("<title>Statistics Report for HAProxy</title>"));
        assert!(out.contains("<h2>Statistics Report for pid "));
        assert!(out.contains("href=\"/st;up\">Hide 'DOWN' servers</a>"));
        assert!(out.contains("href=\"/st;norefresh\">Disable refresh</a>"));
        assert!(out.contains("href=\"/st;csv;norefresh\">CSV export</a>"));
        assert!(out.contains("Action processed successfully."));
        assert_eq!(out.matches("<th class=\"pxname\"").count(), 2);
        assert!(out.contains("<a class=lfsb href=\"#app/Frontend\">Frontend</a>"));
        assert!(out.contains(
            "<tr class=\"active2\"><td><input type=\"checkbox\" name=\"s\" value=\"s1\">"
        ));
        assert!(out.contains(
            "<tr class=\"maintain\"><td><input type=\"checkbox\" name=\"s\" value=\"s2\">"
        ));
        assert!(out.contains("<input type=\"hidden\" name=\"b\" value=\"#1\">"));
        assert!(out.contains("<a class=lfsb href=\"#other/Backend\">Backend</a>"));
        assert!(out.ends_with("</body></html>\n"));
    }

    #[test]
    fn hide_down_and_scope() {
        let rt = runtime(vec![
            backend("a", vec![server("up", 1, 1), server("down", 1, 1)]),
            backend("b", vec![]),
        ]);
        crate::check::disable_server(&rt, crate::check::test_support::sid(0, 1));
        let o = PageOpts {
            uri: "/s".into(),
            hide_down: true,
            ..Default::default()
        };
        let mut out = String::new();
        write_page(&rt, &o, &|p| p.name() == "a", &mut out);
        assert!(out.contains("#a/up\">up</a>"));
        assert!(!out.contains("#a/down\">down</a>"));
        assert!(!out.contains("name=\"b\""));
        assert!(out.contains("href=\"/s\">Show all servers</a>"));
    }
}
