//! Writes a small Outlook message (.msg, [MS-OXMSG]) for the extraction corpus: no Linux
//! office suite saves .msg, so the corpus generator builds one from its MAPI properties.
//!
//! Usage: write_msg OUT SUBJECT SENDER_NAME SENDER_EMAIL DISPLAY_TO BODY ATTACHMENT_NAME
use std::io::Write;

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, subject, sender, email, to, body, attachment] = <[String; 7]>::try_from(args)
        .map_err(|_| "usage: write_msg OUT SUBJECT SENDER_NAME SENDER_EMAIL DISPLAY_TO BODY ATTACHMENT_NAME")?;
    let file = std::fs::File::create(&out)?;
    let mut ole = cfb::CompoundFile::create(file)?;
    // The top-level property stream: a 32-byte header and no fixed-size properties.
    ole.create_stream("/__properties_version1.0")?
        .write_all(&[0u8; 32])?;
    ole.create_storage("/__nameid_version1.0")?;
    for (id, value) in [
        ("0037", &subject),
        ("0C1A", &sender),
        ("0C1F", &email),
        ("0E04", &to),
        ("1000", &body),
    ] {
        ole.create_stream(format!("/__substg1.0_{id}001F"))?
            .write_all(&utf16(value))?;
    }
    let dir = "/__attach_version1.0_#00000000";
    ole.create_storage(dir)?;
    ole.create_stream(format!("{dir}/__properties_version1.0"))?
        .write_all(&[0u8; 8])?;
    ole.create_stream(format!("{dir}/__substg1.0_3707001F"))?
        .write_all(&utf16(&attachment))?;
    ole.create_stream(format!("{dir}/__substg1.0_37010102"))?
        .write_all(b"station,temperature\nAlpha,-4\n")?;
    ole.flush()?;
    Ok(())
}
