// The mongo service's health check, which also initiates its single-node replica set once.
// NeoSC commits each change and its audit entries in one multi-document transaction, which
// MongoDB runs only on a replica set (docs/audit.md). Healthy once this node is the primary.
// The root password is read from the Docker secret named by MONGO_INITDB_ROOT_PASSWORD_FILE,
// never passed on a command line.
const fs = require("fs");
const hello = db.hello();
if (hello.isWritablePrimary) {
  quit(0);
}
if (!hello.setName) {
  // Started with --replSet but not initiated yet (the first start of an empty or older volume).
  const password = fs.readFileSync(process.env.MONGO_INITDB_ROOT_PASSWORD_FILE, "utf8").replace(/\n$/, "");
  const admin = db.getSiblingDB("admin");
  admin.auth(process.env.MONGO_INITDB_ROOT_USERNAME, password);
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
quit(1); // not the primary yet: the election follows the initiation within seconds
