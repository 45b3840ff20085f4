import Testing
import HummingbirdTesting
@Test func stub2() {}
