// Links jwt-kit and swift-crypto into libFuzzDeps.so; the fuzz targets import the modules
// themselves (JWTKit, Crypto) from this build's module directory.
@_exported import Crypto
@_exported import JWTKit
