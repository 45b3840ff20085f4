// Runs once, on the first start of an empty data volume: creates NeoSC's own database user with
// readWrite on its database only. Credentials come from the container environment (infra/.env).
const user = process.env.NEOSC_DB_USER;
const password = process.env.NEOSC_DB_PASSWORD;
if (!user || !password) {
  throw new Error("NEOSC_DB_USER and NEOSC_DB_PASSWORD must be set");
}
db.getSiblingDB("neosc").createUser({
  user: user,
  pwd: password,
  roles: [{ role: "readWrite", db: "neosc" }],
});
