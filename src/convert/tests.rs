//! Unit tests of the converter: 1.4 lines in, 2.6 lines out, one test per mapping.
//! `tests/convert.rs` checks the results with HAProxy 2.6 itself.

use super::convert_str;

/// Converts `text` (which must be valid 1.4; a listener is added when it has none, as 1.4
/// wants one).
fn conv(text: &str) -> String {
    let mut text = text.to_string();
    if !text.contains("listen") && !text.contains("frontend") {
        text.push_str("listen zz 127.0.0.1:1\n");
    }
    match convert_str("t.cfg", text.as_bytes()) {
        Ok(c) => c.text,
        Err(report) => panic!("not valid 1.4:\n{report}\n{text}"),
    }
}

/// The statements of the section whose header line is `header` (comments left out, and the
/// `maxconn 2000` that writes 1.4's default limit, which [`default_limits_are_written`]
/// checks).
fn section(out: &str, header: &str) -> Vec<String> {
    let mut lines = out.lines();
    let mut found = false;
    for l in lines.by_ref() {
        if l == header {
            found = true;
            break;
        }
    }
    assert!(found, "no section '{header}' in:\n{out}");
    lines
        .take_while(|l| l.starts_with(' ') || l.starts_with('#') || l.is_empty())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "maxconn 2000")
        .map(str::to_string)
        .collect()
}

/// The `# haproxide:` notes of the output, joined.
fn notes(out: &str) -> String {
    out.lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("# haproxide:")
                .or_else(|| l.strip_prefix("#   "))
                .map(str::trim)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const FE: &str = "frontend fe\n    bind 127.0.0.1:8080\n    mode http\n";

fn backend(body: &str) -> String {
    format!("{FE}    default_backend be\nbackend be\n    mode http\n{body}")
}

#[test]
fn old_timeouts_become_timeout_lines() {
    let out = conv("defaults\n    contimeout 5000\n    clitimeout 30s\n    srvtimeout 1m\n");
    assert_eq!(
        section(&out, "defaults"),
        [
            "timeout connect 5s",
            "timeout client 30s",
            "timeout server 1m"
        ]
    );
}

#[test]
fn nbproc_becomes_nbthread_or_goes() {
    let out = conv("global\n    nbproc 1\n    maxconn 10\n");
    assert_eq!(section(&out, "global"), ["maxconn 10"]);
    assert!(notes(&out).contains("'nbproc 1' dropped"));
    let out = conv("global\n    nbproc 4\n");
    assert_eq!(section(&out, "global"), ["nbthread 4"]);
    assert!(notes(&out).contains("share them"));
}

#[test]
fn global_keywords_2_6_removed() {
    let out = conv("global\n    debug\n    nosepoll\n    tune.chksize 1024\n    quiet\n");
    assert_eq!(section(&out, "global"), ["quiet"]);
    let n = notes(&out);
    assert!(n.contains("'debug' dropped") && n.contains("'nosepoll' dropped"));
    assert!(n.contains("'tune.chksize' dropped"));
}

#[test]
fn relative_stats_socket_gets_unix_prefix() {
    let out = conv("global\n    stats socket ./run/s.sock mode 600 level admin\n");
    assert_eq!(
        section(&out, "global"),
        ["stats socket unix@./run/s.sock mode 600 level admin"]
    );
    let out = conv("global\n    stats socket /tmp/s.sock\n");
    assert_eq!(section(&out, "global"), ["stats socket /tmp/s.sock"]);
}

#[test]
fn appsession_becomes_a_stick_table() {
    let out = conv(&backend(
        "    appsession 9ai9 len 64 timeout 5h request-learn\n    server a 127.0.0.1:80\n",
    ));
    assert_eq!(
        section(&out, "backend be"),
        [
            "mode http",
            "stick-table type string len 64 size 100k expire 5h",
            "stick on req.cook(9ai9)",
            "stick match url_param(9ai9,;)",
            "stick store-response res.cook(9ai9)",
            "server a 127.0.0.1:80",
        ]
    );
    // without request-learn the request cookie is only looked up; query-string mode
    let out = conv(&backend(
        "    appsession JSESSIONID len 52 timeout 3h mode query-string\n    server a 127.0.0.1:80\n",
    ));
    let be = section(&out, "backend be");
    assert!(
        be.contains(&"stick match req.cook(JSESSIONID)".to_string()),
        "{be:?}"
    );
    assert!(be.contains(&"stick match url_param(JSESSIONID)".to_string()));
    // prefix cannot be carried over
    let c = convert_str(
        "t.cfg",
        backend(
            "    appsession ASPSESSIONID len 24 timeout 1h prefix\n    server a 127.0.0.1:80\n",
        )
        .as_bytes(),
    )
    .unwrap();
    assert!(c.losses.iter().any(|(_, t)| t.contains("prefix")));
}

#[test]
fn request_line_reqrep_becomes_replace_uri() {
    let out = conv(&backend(
        "    reqrep ^([^\\ ]*)\\ /shop/prod/([^\\ ]*)\\ (.*)$ \\1\\ /\\2\\ \\3\n",
    ));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request replace-uri \"^/shop/prod/([^ ]*)\" /\\1"
    );
    let out = conv(&backend(
        "    reqirep ^([^\\ :]*)\\ /search[/]?(.*) \\1\\ /solr/\\2\n",
    ));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request replace-uri (?i)^/search[/]?(.*) /solr/\\1"
    );
    // a literal method becomes a condition
    let out = conv(&backend("    reqrep ^GET\\ /a(.*) GET\\ /b\\1\n"));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request replace-uri ^/a(.*) /b\\1 if { method GET }"
    );
    // changing the method is not carried over
    let c = convert_str(
        "t.cfg",
        backend("    reqrep ^GET\\ (.*) POST\\ \\1\n").as_bytes(),
    )
    .unwrap();
    assert!(c
        .losses
        .iter()
        .any(|(_, t)| t.contains("changes the method")));
}

#[test]
fn header_reqrep_becomes_replace_header() {
    let out = conv(&backend(
        "    reqirep ^Host:\\ shop.example.com Host:\\ www.example.com\n",
    ));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request replace-header Host (?i)^shop.example.com www.example.com"
    );
    // the name captured in a group, and a group holding name and value
    let out = conv(&backend(
        "    rsprep ^(Location:)\\ http://([^/]*)/(.*)$ \\1\\ http://\\2/shop/\\3\n    rsprep ^(Set-Cookie:.*\\ path=)([^\\ ]+)(.*)$ \\1/shop\\2\\3\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(
        be[1],
        "http-response replace-header Location ^http://([^/]*)/(.*)$ http://\\1/shop/\\2"
    );
    assert_eq!(
        be[2],
        "http-response replace-header Set-Cookie ^(.*\\ path=)([^\\ ]+)(.*)$ \\1/shop\\2\\3"
    );
    // a rename is reported, not guessed
    let c = convert_str(
        "t.cfg",
        backend("    reqrep ^X-A:\\ (.*) X-B:\\ \\1\n").as_bytes(),
    )
    .unwrap();
    assert!(c.losses.iter().any(|(_, t)| t.contains("renames header")));
    // `%` is literal in 1.4, a log-format character in 2.6
    let out = conv(&backend("    reqrep ^X-A:\\ .* X-A:\\ 100%\n"));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request replace-header X-A ^.* 100%%"
    );
}

#[test]
fn reqadd_rspadd_become_add_header() {
    let out = conv(&backend(
        "    reqadd X-Forwarded-Proto:\\ http\n    rspadd X-Cluster:\\ default\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(be[1], "http-request add-header X-Forwarded-Proto http");
    assert_eq!(be[2], "http-response add-header X-Cluster default");
    let c = convert_str("t.cfg", backend("    reqadd NoColonHere\n").as_bytes()).unwrap();
    assert_eq!(c.losses.len(), 1, "{:?}", c.losses);
}

#[test]
fn reqdel_variants() {
    let out = conv(&backend(
        "    reqdel ^X-Secret:.*\n    reqidel ^Proxy-Connection\n    reqdel Host\n    rspidel ^Set-cookie:\\ IP=\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(be[1], "http-request del-header X-Secret");
    assert_eq!(be[2], "http-request del-header Proxy-Connection -m beg");
    assert_eq!(be[3], "http-request del-header Host -m sub");
    assert_eq!(
        be[4],
        "http-response del-header Set-cookie if { res.fhdr(Set-cookie) -m reg -i ^IP= }"
    );
    assert!(notes(&out).contains("deletes every 'Set-cookie' header"));
}

#[test]
fn verdict_filters() {
    let out = conv(&format!(
        "{FE}    reqdeny ^User-Agent:\\ .*curl\n    reqideny ^GET\\ /admin\n    reqtarpit ^X-Bot:\n    reqsetbe ^Host:\\ two two\n    default_backend be\nbackend be\n    mode http\nbackend two\n    mode http\n"
    ));
    let fe = section(&out, "frontend fe");
    assert!(
        fe.contains(&"http-request deny if { req.fhdr(User-Agent) -m reg ^.*curl }".to_string()),
        "{fe:?}"
    );
    assert!(fe.contains(
        &"http-request set-var-fmt(txn.hx_reqline) \"%[method] %[url] HTTP/%[req.ver]\""
            .to_string()
    ));
    assert!(fe.contains(
        &"http-request deny if { var(txn.hx_reqline) -m reg -i \"^GET /admin\" }".to_string()
    ));
    assert!(fe.contains(&"http-request tarpit if { req.fhdr_cnt(X-Bot) gt 0 }".to_string()));
    assert!(fe.contains(
        &"http-request set-var(txn.hx_setbe) str(two) if { req.fhdr(Host) -m reg ^two } !{ var(txn.hx_setbe) -m found }"
            .to_string()
    ));
    let ub = fe
        .iter()
        .position(|l| l.starts_with("use_backend %[var(txn.hx_setbe)]"));
    let db = fe.iter().position(|l| l.starts_with("default_backend"));
    assert!(ub.is_some() && ub < db, "{fe:?}");
}

#[test]
fn reqallow_guards_later_verdicts() {
    let out = conv(&backend(
        "    reqallow ^X-Trusted:\\ yes\n    reqdeny ^X-Evil:\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(
        be[1],
        "http-request set-var(txn.hx_allow) bool(true) if { req.fhdr(X-Trusted) -m reg ^yes } !{ var(txn.hx_allow) -m bool }"
    );
    assert_eq!(
        be[2],
        "http-request deny if { req.fhdr_cnt(X-Evil) gt 0 } !{ var(txn.hx_allow) -m bool }"
    );
}

#[test]
fn block_becomes_http_request_deny() {
    let out = conv(&format!("{FE}    acl bad path_beg /x\n    block if bad\n"));
    assert_eq!(section(&out, "frontend fe")[3], "http-request deny if bad");
    assert!(notes(&out).contains("'block' was removed"));
}

#[test]
fn rules_follow_1_4_order() {
    // reqadd written before reqrep: 1.4 still runs the filter first
    let out = conv(&backend(
        "    reqadd X-A:\\ 1\n    reqrep ^X-B:\\ (.*) X-B:\\ b\\1\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(be[1], "http-request replace-header X-B ^(.*) b\\1");
    assert_eq!(be[2], "http-request add-header X-A 1");
    assert!(notes(&out).contains("1.4's order of evaluation"));
}

#[test]
fn http_request_allow_with_filters_uses_a_variable() {
    let out = conv(&backend(
        "    acl ok src 127.0.0.1\n    http-request allow if ok\n    http-request auth realm R\n    reqadd X-A:\\ 1\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(
        &be[2..],
        [
            "http-request set-var(txn.hx_hr1) str(allow) if !{ var(txn.hx_hr1) -m found } ok",
            "http-request set-var(txn.hx_hr1) str(auth1) if !{ var(txn.hx_hr1) -m found }",
            "http-request add-header X-A 1",
            "http-request auth realm R if { var(txn.hx_hr1) -m str auth1 }",
        ]
    );
    // without later rules, the 1.4 lines are kept as they are
    let out = conv(&backend(
        "    http-request auth realm Admin\\ area unless { src 10.0.0.0/8 }\n",
    ));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request auth realm \"Admin area\" unless { src 10.0.0.0/8 }"
    );
}

#[test]
fn redispatch_spellings() {
    for kw in ["redispatch", "redisp", "option redispatch"] {
        let out = conv(&format!("defaults\n    {kw}\n"));
        assert_eq!(section(&out, "defaults"), ["option redispatch"], "{kw}");
    }
}

#[test]
fn connection_modes() {
    let out = conv(&format!("{FE}    option httpclose\n"));
    assert_eq!(section(&out, "frontend fe")[2], "option httpclose");
    assert!(notes(&out).contains("2.6 keeps connections alive by default"));
    let out = conv(&format!("{FE}    option forceclose\n"));
    assert_eq!(section(&out, "frontend fe")[2], "option httpclose");
    assert!(notes(&out).contains("'option forceclose' was removed in 2.0"));
    // httpclose + http-server-close is forceclose in 1.4: only httpclose is written
    let out = conv(&format!(
        "{FE}    option http-server-close\n    option httpclose\n"
    ));
    let fe = section(&out, "frontend fe");
    assert_eq!(&fe[2..], ["option httpclose"]);
    // `no option` cancels a defaults setting
    let out = conv(&format!(
        "defaults\n    option httpclose\n{FE}    no option httpclose\n    option http-server-close\n"
    ));
    assert_eq!(
        &section(&out, "frontend fe")[2..],
        ["no option httpclose", "option http-server-close"]
    );
}

#[test]
fn listen_address_becomes_bind() {
    let out = conv("listen web 127.0.0.1:80,127.0.0.1:81\n    mode http\n");
    assert_eq!(
        section(&out, "listen web"),
        ["bind 127.0.0.1:80", "bind 127.0.0.1:81", "mode http"]
    );
    let out = conv("frontend f *:8000-8002\n");
    assert_eq!(section(&out, "frontend f"), ["bind *:8000-8002"]);
}

#[test]
fn monitor_net_becomes_rules() {
    let out = conv(&format!("{FE}    monitor-net 10.0.0.0/8\n"));
    assert_eq!(
        &section(&out, "frontend fe")[2..],
        [
            "http-request set-log-level silent if { src 10.0.0.0/8 }",
            "http-request return status 200 if { src 10.0.0.0/8 }"
        ]
    );
    let out = conv("listen l 127.0.0.1:81\n    mode tcp\n    monitor-net 192.168.0.0/16\n");
    assert_eq!(
        section(&out, "listen l")[2],
        "tcp-request connection reject if { src 192.168.0.0/16 }"
    );
    // from defaults: written in the inheriting frontend
    let out = conv(&format!(
        "defaults\n    mode http\n    monitor-net 10.0.0.1\n{FE}"
    ));
    assert!(section(&out, "defaults").len() == 1);
    assert!(section(&out, "frontend fe")
        .contains(&"http-request return status 200 if { src 10.0.0.1 }".to_string()));
}

#[test]
fn mode_health_and_http_proxy() {
    let out = conv("listen h 127.0.0.1:81\n    mode health\n");
    assert_eq!(
        section(&out, "listen h"),
        [
            "bind 127.0.0.1:81",
            "mode http",
            "http-request return status 200 content-type text/plain string \"OK\""
        ]
    );
    let out = conv("listen p 127.0.0.1:82\n    mode http\n    option http_proxy\n");
    assert_eq!(
        &section(&out, "listen p")[2..],
        [
            "http-request set-dst url_ip",
            "http-request set-dst-port url_port",
            "server hx_http_proxy 0.0.0.0:0"
        ]
    );
}

#[test]
fn nbsp_indentation_and_comments_are_carried_over() {
    let src =
        "# top comment\nglobal\n\u{a0}\u{a0}maxconn\u{a0}10   # ten\n\n#\u{a0}old line\n\tdaemon\n";
    let out = conv(src);
    assert!(
        out.contains("\n# top comment\nglobal\n    maxconn 10  # ten\n\n# old line\n    daemon\n"),
        "{out}"
    );
    assert!(!out.contains('\u{a0}'));
}

#[test]
fn missing_final_newline_is_fixed() {
    let out = conv("global\n    maxconn 10\nlisten zz 127.0.0.1:1");
    assert!(out.ends_with('\n'));
    assert!(notes(&out).contains("no line feed after its last line"));
}

#[test]
fn duplicate_servers_are_renamed_and_empty_cookies_dropped() {
    let out = conv(&backend(
        "    server a 127.0.0.1:80\n    server a 127.0.0.1:81\n    server b 127.0.0.1:82 cookie\n",
    ));
    assert_eq!(
        &section(&out, "backend be")[1..],
        [
            "server a 127.0.0.1:80",
            "server a_2 127.0.0.1:81",
            "server b 127.0.0.1:82"
        ]
    );
    let n = notes(&out);
    assert!(n.contains("renamed 'a_2'") && n.contains("'cookie' without a value"));
}

#[test]
fn servers_keep_their_parameters() {
    let out = conv(&backend(
        "    default-server inter 3s fall 2\n    server s 127.0.0.1:9001 cookie s1 check weight 10 maxconn 100 slowstart 10s backup\n    server t 127.0.0.2\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(
        be[1],
        "server s 127.0.0.1:9001 cookie s1 check inter 3s fall 2 weight 10 backup maxconn 100 slowstart 10s"
    );
    assert_eq!(be[2], "server t 127.0.0.2 inter 3s fall 2");
}

#[test]
fn realms_and_quotes() {
    let out = conv(
        "listen s 127.0.0.1:80\n    mode http\n    stats enable\n    stats realm 9ai9.net\\ Qhappy\n    stats auth a:b\nlisten x 127.0.0.1:81\n    mode http\n    stats realm L'broker\n",
    );
    assert_eq!(
        &section(&out, "listen s")[2..],
        [
            "stats enable",
            "stats realm \"9ai9.net Qhappy\"",
            "stats auth a:b"
        ]
    );
    assert_eq!(section(&out, "listen x")[2], "stats realm L\\'broker");
}

#[test]
fn dollar_signs_are_not_environment_variables() {
    // 2.6 expands `$NAME` between double quotes only
    let out = conv(&backend("    reqadd X-Price:\\ $HOME\\ 5\n"));
    assert_eq!(
        section(&out, "backend be")[1],
        "http-request add-header X-Price $HOME\\ 5"
    );
    assert!(notes(&out).contains("stay literal"));
}

#[test]
fn defaults_values_are_not_repeated() {
    let out = conv(&format!(
        "defaults\n    mode http\n    option httplog\n    timeout client 5s\n{FE}    timeout client 9s\n"
    ));
    assert_eq!(
        section(&out, "defaults"),
        ["mode http", "option httplog", "timeout client 5s"]
    );
    assert_eq!(
        section(&out, "frontend fe"),
        ["bind 127.0.0.1:8080", "mode http", "timeout client 9s"]
    );
}

#[test]
fn checks_and_error_files() {
    let out = conv(&backend(
        "    option httpchk HEAD / HTTP/1.1\\r\\nHost:\\ www\n    http-check expect ! rstring ^down[\\.]\n",
    ));
    let be = section(&out, "backend be");
    assert_eq!(
        &be[1..],
        [
            "option httpchk HEAD / HTTP/1.1",
            "http-check send hdr Host www",
            "http-check expect ! rstring ^down[\\\\\\.]"
        ]
    );
}

#[test]
fn acl_regexes_become_pcre() {
    let out = conv(&format!(
        "{FE}    acl a hdr_reg(host) -i ^(cookie.9ai9.net)\n    acl b url_reg /*.(css|png)$ \\.php\\<\n    acl c path_beg -i /static /img\n"
    ));
    let fe = section(&out, "frontend fe");
    assert_eq!(fe[2], "acl a hdr_reg(host) -i ^(cookie.9ai9.net)");
    assert_eq!(fe[3], "acl b url_reg /*.(css|png)$ \\.php[[:<:]]");
    assert_eq!(fe[4], "acl c path_beg -i /static /img");
}

#[test]
fn conditions_with_anonymous_acls() {
    let out = conv(&format!(
        "{FE}    use_backend b if {{ hdr(host) -i b.example }} || !{{ path_reg ^/x[\\.] }}\nbackend b\n    mode http\n"
    ));
    assert_eq!(
        section(&out, "frontend fe")[2],
        "use_backend b if { hdr(host) -i b.example } || !{ path_reg ^/x[\\\\\\.] }"
    );
}

#[test]
fn rulesets_become_comments() {
    let out = conv("ruleset r\n    acl a path /a\n");
    assert!(out.contains("# ruleset r\n#     acl a path /a\n"), "{out}");
}

#[test]
fn invalid_input_is_refused() {
    let err = convert_str("t.cfg", b"frontend f\n    bogus 1\n").unwrap_err();
    assert!(err.contains("unknown keyword 'bogus'"), "{err}");
}

#[test]
fn grace_and_bind_process_are_reported() {
    let c = convert_str(
        "t.cfg",
        format!("{FE}    grace 5s\n    bind-process 1\n").as_bytes(),
    )
    .unwrap();
    assert!(c
        .losses
        .iter()
        .any(|(s, t)| s.line == 4 && t.contains("'grace 5s' dropped")));
    assert!(notes(&c.text).contains("'bind-process' dropped"));
}

#[test]
fn stick_rules_and_tables() {
    let out = conv(&backend(
        "    stick-table type ip size 200k expire 30m\n    stick on src\n    stick match hdr(X-Forwarded-For,1) ipmask(255.255.255.0)\n",
    ));
    assert_eq!(
        &section(&out, "backend be")[1..],
        [
            "stick-table type ip size 200k expire 30m",
            "stick on src",
            "stick match req.hdr_ip(X-Forwarded-For,1),ipmask(255.255.255.0)"
        ]
    );
}

#[test]
fn general_notes_at_the_top() {
    let out = conv(FE);
    let head: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    let head = head.join(" ");
    assert!(head.contains("lower case"), "{head}");
    assert!(head.contains("tunnelled"), "{head}");
}

#[test]
fn default_limits_are_written() {
    let full = |out: &str, header: &str| -> Vec<String> {
        out.split(&format!("{header}\n"))
            .nth(1)
            .unwrap_or_default()
            .lines()
            .take_while(|l| l.starts_with(' '))
            .map(|l| l.trim().to_string())
            .filter(|l| !l.starts_with('#'))
            .collect()
    };
    // 1.4: 2000 globally and per frontend unless set; 2.6 would size them otherwise
    let out = conv(&format!(
        "global\n    daemon\ndefaults\n    mode http\n{FE}"
    ));
    assert_eq!(full(&out, "global"), ["maxconn 2000", "daemon"]);
    assert_eq!(full(&out, "defaults"), ["maxconn 2000", "mode http"]);
    assert!(
        !full(&out, "frontend fe").contains(&"maxconn 2000".to_string()),
        "inherited"
    );
    // without defaults, the frontend itself
    let out = conv(FE);
    assert_eq!(full(&out, "frontend fe")[0], "maxconn 2000");
    // set values stay as they are
    let out = conv(&format!("global\n    maxconn 50\n{FE}    maxconn 10\n"));
    assert_eq!(full(&out, "global"), ["maxconn 50"]);
    assert!(full(&out, "frontend fe").contains(&"maxconn 10".to_string()));
    assert!(!out.contains("maxconn 2000"));
}
