// `sqlx::migrate!` embeds the migrations when the crate compiles: rebuild when one is
// added or edited, not only when the crate's sources change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
