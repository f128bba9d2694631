"""The status page: one self-contained HTML document, its script allowed by a nonce.

`render` returns the page with a fresh nonce (the server puts the same nonce
in the Content-Security-Policy), so only this page's own style and script
run. The page has no data in it: its script fetches `/api/tasks` and
`/api/runs` every few seconds and builds the DOM with `textContent` only, so
task names, errors and output are never parsed as HTML. No external CSS, JS
or fonts: it works offline. Never reads the scheduler itself.
"""

from __future__ import annotations

import secrets

REFRESH_SECONDS = 3

_STYLE = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--info:#0969da;--idle:#6e7781}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#3d444d;--head:#151b23;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--info:#4493f8;
--idle:#8b949e}body .cell{color:#0d1117}}
*{box-sizing:border-box}
body{margin:0;padding:12px;background:var(--bg);color:var(--fg);
font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:baseline}
h1{font-size:18px;margin:0}h2{font-size:16px;margin:20px 0 6px}
.muted{color:var(--muted)}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--head);font-weight:600;white-space:nowrap}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.strip{display:flex;gap:2px;flex-wrap:nowrap}
.cell{display:inline-block;width:14px;height:18px;border-radius:3px;color:#fff;
font:bold 11px/18px ui-monospace,monospace;text-align:center}
.succeeded{background:var(--ok)}.failed,.timed_out,.interrupted{background:var(--bad)}
.skipped,.missed,.cancelled{background:var(--warn)}.running{background:var(--info)}
.status{font-weight:600}.status.succeeded{color:var(--ok);background:none}
.status.failed,.status.timed_out,.status.interrupted{color:var(--bad);background:none}
.status.skipped,.status.missed,.status.cancelled{color:var(--warn);background:none}
button{font:inherit;padding:2px 8px;margin:1px;border:1px solid var(--line);
border-radius:4px;background:var(--head);color:var(--fg);cursor:pointer}
tr.run{cursor:pointer}tr.run:hover{background:var(--head)}
pre{white-space:pre-wrap;word-break:break-all;background:var(--head);padding:8px;
margin:4px 0;max-height:240px;overflow:auto;font-size:12px}
input{font:inherit;padding:2px 6px;border:1px solid var(--line);border-radius:4px;
background:var(--bg);color:var(--fg)}
#message{min-height:1.4em}
@media (max-width:700px){.wide{display:none}body{padding:6px}th,td{padding:4px}}
"""

_SCRIPT = """
'use strict';
const LETTERS={succeeded:'\\u2713',failed:'\\u2717',timed_out:'T',skipped:'S',missed:'M',
cancelled:'C',interrupted:'I',running:'R'};
const control=document.body.dataset.control==='true';
let fetchedAt=0,tasks=[],shown='';
function el(tag,text,cls){const e=document.createElement(tag);
if(text!==undefined&&text!==null)e.textContent=String(text);if(cls)e.className=cls;return e;}
function seconds(s){if(s===null||s===undefined)return '';s=Math.max(0,Math.round(s));
if(s<60)return s+'s';if(s<3600)return Math.floor(s/60)+'m '+(s%60)+'s';
if(s<86400)return Math.floor(s/3600)+'h '+Math.floor(s%3600/60)+'m';
return Math.floor(s/86400)+'d '+Math.floor(s%86400/3600)+'h';}
function cell(status){const c=el('span',LETTERS[status]||'?','cell '+status);
c.title=status;c.setAttribute('aria-label',status);return c;}
function say(text){document.getElementById('message').textContent=text;}
async function act(taskId,action){
const token=document.getElementById('token').value;sessionStorage.setItem('cts-token',token);
const path=taskId?'/api/tasks/'+encodeURIComponent(taskId)+'/'+action:'/api/reload';
try{const r=await fetch(path,{method:'POST',headers:{'Authorization':'Bearer '+token}});
const body=await r.json();say((taskId||'reload')+': '+(body.message||body.error));}
catch(e){say(String(e));}refresh();}
function button(label,taskId,action){const b=el('button',label);
b.addEventListener('click',()=>act(taskId,action));return b;}
function taskRow(t){const tr=el('tr');
tr.append(el('td',t.task_id),el('td',t.task_name,'wide'),el('td',t.task_type,'wide'),
el('td',t.schedule));
const state=el('td',t.state+(t.running?' ('+t.running+')':''));tr.append(state);
const next=el('td','','num countdown');next.dataset.in=t.next_run_in_seconds===null?'':
t.next_run_in_seconds;tr.append(next);
const last=el('td');if(t.last_result){last.append(el('span',t.last_result.status,
'status '+t.last_result.status),el('span',' '+t.last_result.duration_seconds.toFixed(2)+'s',
'muted'));}tr.append(last);
const c=t.counts;tr.append(el('td',c.succeeded+' / '+(c.failed+c.timed_out),'num wide'));
const strip=el('div','','strip');t.recent.forEach(s=>strip.append(cell(s)));
const st=el('td');st.append(strip);tr.append(st);
if(control){const td=el('td');td.append(button('run',t.task_id,'run'),
t.enabled?button('pause',t.task_id,'pause'):button('resume',t.task_id,'resume'));
if(t.running)td.append(button('cancel',t.task_id,'cancel'));tr.append(td);}
return tr;}
function tick(){const gone=(Date.now()-fetchedAt)/1000;
document.querySelectorAll('td.countdown').forEach(td=>{if(td.dataset.in===''){
td.textContent='\\u2014';return;}const left=Number(td.dataset.in)-gone;
td.textContent=left>0?'in '+seconds(left):'due';});}
function runKey(run){return 'run='+run.task_id+'.'+run.run_number+'.'+run.attempt;}
function details(run){const box=document.getElementById('details');box.replaceChildren();
shown=runKey(run);history.replaceState(null,'','#'+shown);
box.append(el('h2','Run '+run.run_number+' of '+run.task_id+' (attempt '+run.attempt+')'));
box.append(el('p',run.status+' at '+run.ended_at+' in '+run.duration_seconds.toFixed(3)+
's, exit code '+(run.exit_code===null?'none':run.exit_code)));
if(run.error)box.append(el('p','error: '+run.error));
box.append(el('h2','stdout (tail)'),el('pre',run.stdout_tail||'(empty)'),
el('h2','stderr (tail)'),el('pre',run.stderr_tail||'(empty)'));box.scrollIntoView();}
function runRow(run){const tr=el('tr','','run');
tr.append(el('td',run.ended_at.replace('T',' ').slice(0,19),'num'),el('td',run.task_id),
el('td',run.run_number+(run.attempt>1?'.'+run.attempt:''),'num wide'));
const s=el('td');s.append(cell(run.status),el('span',' '+run.status));tr.append(s);
tr.append(el('td',run.duration_seconds.toFixed(2)+'s','num wide'),el('td',run.error));
tr.addEventListener('click',()=>details(run));return tr;}
async function refresh(){try{
const [tr,rr]=await Promise.all([fetch('/api/tasks'),fetch('/api/runs?limit=50')]);
const data=await tr.json(),runs=await rr.json();fetchedAt=Date.now();tasks=data.tasks;
document.getElementById('tasks').replaceChildren(...tasks.map(taskRow));
document.getElementById('runs').replaceChildren(...runs.runs.map(runRow));
const wanted=decodeURIComponent(location.hash.slice(1));
const hit=runs.runs.find(r=>runKey(r)===wanted);if(hit&&shown!==wanted)details(hit);
const failing=tasks.filter(t=>t.last_result&&t.last_result.status!=='succeeded').length;
document.getElementById('summary').textContent=tasks.length+' tasks, '+failing+
' failing; updated '+new Date().toLocaleTimeString()+' (runs from '+runs.source+')';
tick();}catch(e){document.getElementById('summary').textContent='cannot reach the '+
'scheduler: '+e;}}
if(control){document.getElementById('control').hidden=false;
document.getElementById('token').value=sessionStorage.getItem('cts-token')||'';
document.getElementById('reload').addEventListener('click',()=>act('', 'reload'));}
else{document.querySelectorAll('.control').forEach(e=>e.remove());}
refresh();setInterval(refresh,REFRESH_MS);setInterval(tick,1000);
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>configure_task_scheduler</title><style nonce="{nonce}">{style}</style></head>
<body data-control="{control}">
<header><h1>Task scheduler</h1><span id="summary" class="muted">loading\u2026</span></header>
<div id="control" hidden><label>token <input id="token" type="password"
autocomplete="off" size="16"></label> <button id="reload">reload config</button>
<span id="message" class="muted"></span></div>
<h2>Tasks</h2><div class="scroll"><table><thead><tr><th>id</th><th class="wide">name</th>
<th class="wide">type</th><th>schedule</th><th>state</th><th>next run</th><th>last run</th>
<th class="wide">ok / failed</th><th>last 20 runs</th><th class="control">control</th>
</tr></thead><tbody id="tasks"></tbody></table></div>
<p class="muted">\u2713 succeeded, \u2717 failed, T timed out, S skipped, M missed,
C cancelled, I interrupted</p>
<h2>Recent runs</h2><p class="muted">Click a run for its error and output
(its address, #run=TASK.RUN.ATTEMPT, opens it again).</p>
<div class="scroll"><table><thead><tr><th>ended</th><th>task</th><th class="wide">run</th>
<th>status</th><th class="wide">took</th><th>error</th></tr></thead>
<tbody id="runs"></tbody></table></div><section id="details"></section>
<script nonce="{nonce}">const REFRESH_MS={refresh_ms};{script}</script>
</body></html>
"""


def render(control_enabled: bool) -> tuple[str, bytes]:
    """Return (nonce, the page as UTF-8): a new nonce for every response."""
    nonce = secrets.token_urlsafe(18)
    html = _PAGE.format(nonce=nonce, style=_STYLE, script=_SCRIPT,
                        control="true" if control_enabled else "false",
                        refresh_ms=REFRESH_SECONDS * 1000)
    return nonce, html.encode()
