// Runs once, on the first start of an empty data volume: creates NeoSC's own database user with
// readWrite on its database only. The password comes from the Docker secret named by
// NEOSC_DB_PASSWORD_FILE (infra/secrets/mongo_app_password), never from the environment.
const fs = require("fs");
const user = process.env.NEOSC_DB_USER;
const passwordFile = process.env.NEOSC_DB_PASSWORD_FILE;
if (!user || !passwordFile) {
  throw new Error("NEOSC_DB_USER and NEOSC_DB_PASSWORD_FILE must be set");
}
const password = fs.readFileSync(passwordFile, "utf8").replace(/\n$/, "");
if (password.length < 16) {
  throw new Error("the password in NEOSC_DB_PASSWORD_FILE must have at least 16 characters");
}
db.getSiblingDB("neosc").createUser({
  user: user,
  pwd: password,
  roles: [{ role: "readWrite", db: "neosc" }],
});
