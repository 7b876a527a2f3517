//! The retirement certificate: a printable HTML page, in Arabic (right to left) and English,
//! that names every serial range retired, the beneficiary, the project and vintage, and the
//! journal record — sequence number and chain hash — that holds the retirement, with how anyone
//! can check it. Every value from the ledger is escaped: beneficiaries and project names are
//! free text typed by members.

use rasid_core::time::rfc3339;
use rasid_core::{RetirementId, SerialRange, State};
use std::fmt::Write;

/// What a certificate shows, read from the state in one query.
#[derive(Debug, Clone)]
pub struct Data {
    pub id: RetirementId,
    pub seq: u64,
    pub beneficiary: String,
    pub purpose: &'static str,
    pub using_entity: String,
    pub note: String,
    pub quantity_tonnes: u64,
    pub ranges: Vec<SerialRange>,
    pub project_external_id: String,
    pub project_name: String,
    pub program: &'static str,
    pub country: String,
    pub vintage: u16,
    pub time: String,
}

impl Data {
    pub fn of(s: &State, id: RetirementId) -> Option<Data> {
        let r = s.retirement(id)?;
        let iss = s.issuance(r.issuance)?;
        let p = s.project(iss.project)?;
        Some(Data {
            id,
            seq: r.seq,
            beneficiary: r.details.beneficiary.clone(),
            purpose: r.details.purpose.as_str(),
            using_entity: r.details.using_entity.clone(),
            note: r.details.note.clone(),
            quantity_tonnes: r.serials.quantity_tonnes(),
            ranges: r.serials.to_vec(),
            project_external_id: p.info.external_id.clone(),
            project_name: p.info.name.clone(),
            program: p.info.program.as_str(),
            country: p.info.country.clone(),
            vintage: iss.vintage_year,
            time: rfc3339(r.retired_at_ms),
        })
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'Noto Naskh Arabic','Noto Sans',Arial,sans-serif;margin:0;background:#f4f6f3;color:#1b2a1f}\
main{max-width:52rem;margin:2rem auto;background:#fff;border:6px double #2e6b3a;padding:2rem 2.5rem}\
h1{color:#2e6b3a;margin:.2rem 0 1rem;font-size:1.6rem}section{margin-bottom:2rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}dt{font-weight:bold}dd{margin:0}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #9bb39f;padding:.2rem .6rem;text-align:end;font-variant-numeric:tabular-nums}\
code{font-family:monospace;word-break:break-all;direction:ltr;unicode-bidi:embed}.verify{font-size:.9rem;color:#34493a}\
hr{border:0;border-top:1px solid #9bb39f;margin:1.5rem 0}\
@media print{body{background:#fff}main{margin:0;border-width:4px;max-width:none}@page{size:A4;margin:1.5cm}}";

/// The page. `arabic_first` orders the two language blocks (`?lang=ar|en`).
pub fn html(d: &Data, record_hash: &[u8; 32], arabic_first: bool) -> String {
    let hash = rasid_core::codec::hex(record_hash);
    let mut ranges = String::new();
    for r in &d.ranges {
        let _ = write!(
            ranges,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            r.first(),
            r.last(),
            r.quantity_tonnes()
        );
    }
    let first_serial = d.ranges.first().map_or(0, |r| r.first());
    // Every value from the record is escaped once, here; both language blocks use these.
    let (q, id, vintage, seq) = (d.quantity_tonnes, d.id.0, d.vintage, d.seq);
    let (ben, using, purpose) =
        (escape(&d.beneficiary), escape(&d.using_entity), escape(d.purpose));
    let (prog, ext, name) =
        (escape(d.program), escape(&d.project_external_id), escape(&d.project_name));
    let (country, time, note) = (escape(&d.country), escape(&d.time), escape(&d.note));
    let english = format!(
        "<section lang=\"en\" dir=\"ltr\"><h1>Certificate of Retirement</h1>\
<p>{q} tonnes of CO₂e were permanently retired on the Rasid registry on behalf of <strong>{ben}</strong>.</p>\
<dl><dt>Retirement</dt><dd>ret{id}</dd><dt>Beneficiary</dt><dd>{ben}</dd><dt>Using entity</dt><dd>{using}</dd>\
<dt>Purpose</dt><dd>{purpose}</dd><dt>Quantity</dt><dd>{q} t</dd><dt>Project</dt><dd>{prog} {ext} — {name} ({country})</dd>\
<dt>Vintage</dt><dd>{vintage}</dd><dt>Retired at</dt><dd>{time}</dd><dt>Note</dt><dd>{note}</dd>\
<dt>Journal record</dt><dd>#{seq}</dd><dt>Record hash</dt><dd><code>{hash}</code></dd></dl>\
<h2>Serial ranges</h2><table><thead><tr><th>First</th><th>Last</th><th>Tonnes</th></tr></thead><tbody>{ranges}</tbody></table>\
<p class=\"verify\">To verify: look any serial up at <code>GET /v1/serials/{first_serial}</code> (it answers “retired”, \
retirement ret{id}); an auditor with a copy of the journal runs <code>rasid verify</code>, which recomputes the hash chain \
— record #{seq} must have the hash above.</p></section>",
    );
    let arabic = format!(
        "<section lang=\"ar\" dir=\"rtl\"><h1>شهادة سحب أرصدة كربونية</h1>\
<p>سُحبت {q} طن من مكافئ ثاني أكسيد الكربون نهائيًا في سجل راصد لصالح <strong>{ben}</strong>.</p>\
<dl><dt>رقم السحب</dt><dd><code>ret{id}</code></dd><dt>المستفيد</dt><dd>{ben}</dd><dt>الجهة المستخدمة</dt><dd>{using}</dd>\
<dt>الغرض</dt><dd>{purpose}</dd><dt>الكمية</dt><dd>{q} طن</dd><dt>المشروع</dt><dd>{prog} {ext} — {name} ({country})</dd>\
<dt>سنة الإصدار</dt><dd>{vintage}</dd><dt>وقت السحب</dt><dd><code>{time}</code></dd><dt>ملاحظة</dt><dd>{note}</dd>\
<dt>سجل اليومية</dt><dd>#{seq}</dd><dt>بصمة السجل</dt><dd><code>{hash}</code></dd></dl>\
<h2>نطاقات الأرقام التسلسلية</h2><table><thead><tr><th>من</th><th>إلى</th><th>طن</th></tr></thead><tbody>{ranges}</tbody></table>\
<p class=\"verify\">للتحقق: ابحث عن أي رقم تسلسلي عبر <code>GET /v1/serials/{first_serial}</code> (الجواب: مسحوب، \
السحب ret{id})؛ ويمكن لمدقق يملك نسخة من اليومية تشغيل <code>rasid verify</code> لإعادة حساب سلسلة البصمات — \
يجب أن تكون بصمة السجل #{seq} كما هي أعلاه.</p></section>",
    );
    let (first, second, lang, dir) =
        if arabic_first { (arabic, english, "ar", "rtl") } else { (english, arabic, "en", "ltr") };
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Rasid retirement ret{id} — {ben}</title><style>{STYLE}</style></head>\
<body><main>{first}<hr>{second}</main></body></html>",
        id = d.id.0,
        ben = escape(&d.beneficiary),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("<b>\"A&B\"</b>'"), "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;&#39;");
    }
}
