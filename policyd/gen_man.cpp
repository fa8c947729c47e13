// rdns-policyd-man: writes the man pages (policyd/tools/man_pages.hpp) into
// a directory at build time. Usage: rdns-policyd-man DIR
#include <fstream>
#include <iostream>
#include <string>

#include "policyd/tools/man_pages.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: rdns-policyd-man DIR\n";
        return 64;
    }
    const std::string dir = argv[1];
    std::ofstream eight(dir + "/rdns-policyd.8");
    policyd::write_man_page_8(eight);
    std::ofstream five(dir + "/rdns-policyd.toml.5");
    policyd::write_man_page_5(five);
    eight.close();
    five.close();
    if (!eight || !five) {
        std::cerr << "rdns-policyd-man: cannot write the man pages in " << dir << "\n";
        return 1;
    }
    return 0;
}
