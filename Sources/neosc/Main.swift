import App
import ArgumentParser

/// `neosc`: the command line of `App`, nothing else.
@main
enum Main {
    static func main() async {
        await NeoSCCommand.main()
    }
}
